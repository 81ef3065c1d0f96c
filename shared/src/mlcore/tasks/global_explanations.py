"""Global explanations at evaluation: the served predictor's own ``explain`` over held-out items,
summed up. One method per task type is already in the predictor, so the global view is the local
one aggregated (a SHAP summary is exactly this: the mean |value| of each field), and it says what
the served model leans on, not a second model's view.

Tables (``write_plots`` draws them; DVC plots and MLflow artifacts):
- ``explanation_terms`` (label, term, importance, listed): per term (a field, a feature), its mean
  |contribution| over the items (0 where an item did not list it) and how often it was listed; for
  word attributions, per predicted label the words with the largest mean contribution towards it
  (seen at least twice).
- ``explanation_beeswarm`` and ``explanation_dependence`` (exact methods with the items' values:
  SHAP for tabular regression, the margin split for clustering): each item's contribution of the
  top terms beside its value (a SHAP summary), and for the top three numeric terms contribution
  against value.
- ``explanation_maps``: for occlusion maps, the mean map per predicted class.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlcore.foundation.served import ServedModel
from mlcore.tasks.base import Scored

TOP = 15
ALL_TERMS = 10_000  # explain(..., top=ALL_TERMS): every term of an item, for the summaries


def explain_items(predictor: Any, served: ServedModel, test: pd.DataFrame, items: int, chunk: int = 25) -> list[dict]:
    """``predictor.explain`` on the first ``items`` test rows, ``chunk`` at a time ([] where the
    task type or the model has no explanation)."""
    if not served.explains or items <= 0:
        return []
    validated = [served.item.model_validate(row) for row in served.request_items(test.head(items))]
    out: list[dict] = []
    every = {"top": ALL_TERMS} if "top" in inspect.signature(predictor.explain).parameters else {}
    try:
        for start in range(0, len(validated), chunk):
            out.extend(predictor.explain(validated[start : start + chunk], **every))
    except NotImplementedError:
        return []
    return out


def label_of(answer: dict[str, Any]) -> str:
    for key in ("label", "segment_name", "segment"):
        if key in answer:
            return str(answer[key])
    return "all"


def summarise(explained: Sequence[dict[str, Any]]) -> Scored:
    """The tables above from ``/explain``-shaped answers."""
    if not explained:
        return Scored()
    whys = [answer["explanation"] for answer in explained]
    tables: dict[str, pd.DataFrame] = {}
    if all("heatmap" in why for why in whys):
        tables["explanation_maps"] = mean_maps(explained)
    elif all("words" in why for why in whys):
        tables["explanation_terms"] = words_by_label(explained)
    else:
        tables["explanation_terms"] = mean_sizes(whys)
        if all(why.get("exact") for why in whys) and any("value" in t for why in whys for t in why["terms"]):
            swarm = beeswarm(whys, tables["explanation_terms"]["term"].head(10).tolist())
            tables["explanation_beeswarm"] = swarm
            tables["explanation_dependence"] = swarm[swarm["term"].isin(numeric_terms(swarm)[:3])].reset_index(
                drop=True
            )
    return Scored({"explained_items": float(len(explained))}, tables)


def mean_sizes(whys: Sequence[dict[str, Any]]) -> pd.DataFrame:
    total: dict[str, float] = defaultdict(float)
    listed: dict[str, int] = defaultdict(int)
    for why in whys:
        for term in why["terms"]:
            total[str(term["name"])] += abs(float(term["contribution"]))
            listed[str(term["name"])] += 1
    rows = [
        {"label": "all", "term": name, "importance": total[name] / len(whys), "listed": listed[name]} for name in total
    ]
    frame = pd.DataFrame(rows).sort_values("importance", ascending=False)
    return frame.head(TOP).reset_index(drop=True)


def beeswarm(whys: Sequence[dict[str, Any]], terms: Sequence[str]) -> pd.DataFrame:
    """Every item's contribution of each of ``terms`` beside the item's value of it and that
    value's rank among the items (0 lowest, 1 highest; empty for a category): a SHAP summary's
    points, and with the values the dependence plots."""
    rows = []
    for why in whys:
        listed = {str(t["name"]): t for t in why["terms"]}
        for term in terms:
            if term in listed:
                rows.append(
                    {
                        "term": term,
                        "contribution": float(listed[term]["contribution"]),
                        "value": listed[term].get("value"),
                    }
                )
    frame = pd.DataFrame(rows, columns=["term", "contribution", "value"])
    numeric = pd.to_numeric(frame["value"], errors="coerce")
    frame["value_rank"] = numeric.groupby(frame["term"]).rank(pct=True)
    frame["value"] = numeric.where(numeric.notna(), frame["value"])
    return frame


def numeric_terms(frame: pd.DataFrame) -> list[str]:
    """The terms of a beeswarm table whose values are numbers, in the table's order."""
    ranked = frame.dropna(subset=["value_rank"])
    return list(dict.fromkeys(ranked["term"]))


def words_by_label(explained: Sequence[dict[str, Any]]) -> pd.DataFrame:
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for answer in explained:
        label = label_of(answer)
        for word in answer["explanation"]["words"]:
            name = str(word["name"]).lower().strip()
            if any(ch.isalnum() for ch in name):
                sums[(label, name)].append(float(word["contribution"]))
    rows = [
        {"label": label, "term": name, "importance": float(np.mean(values)), "listed": len(values)}
        for (label, name), values in sums.items()
        if len(values) >= 2
    ]
    frame = pd.DataFrame(rows, columns=["label", "term", "importance", "listed"])
    frame = frame.sort_values("importance", ascending=False)
    return frame.groupby("label", sort=True).head(TOP // 2 + 3).reset_index(drop=True)


def mean_maps(explained: Sequence[dict[str, Any]]) -> pd.DataFrame:
    maps: dict[str, list[np.ndarray]] = defaultdict(list)
    for answer in explained:
        maps[label_of(answer)].append(np.asarray(answer["explanation"]["heatmap"], dtype=float))
    rows = []
    for label in sorted(maps):
        mean = np.mean(maps[label], axis=0)
        rows.append(
            {
                "label": label,
                "items": len(maps[label]),
                "height": mean.shape[0],
                "width": mean.shape[1],
                "heat": " ".join(f"{v:.4f}" for v in mean.ravel()),
            }
        )
    return pd.DataFrame(rows)


def global_explanations(predictor: Any, served: ServedModel, test: pd.DataFrame, items: int) -> Scored:
    """Explain ``items`` test rows with the served predictor and sum the explanations up."""
    return summarise(explain_items(predictor, served, test, items))
