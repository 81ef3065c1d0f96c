"""Global explanations at evaluation: the served predictor's own ``explain`` over held-out items,
summed up. One method per task type is already in the predictor, so the global view is the local
one aggregated (a SHAP summary is exactly this: the mean |value| of each field), and it says what
the served model leans on, not a second model's view.

Tables (``write_plots`` draws them; DVC plots and MLflow artifacts):
- ``explanation_terms`` (label, term, importance, listed): per term (a field, a feature), its mean
  |contribution| over the items (0 where an item did not list it) and how often it was listed; for
  word attributions, per predicted label the words with the largest mean contribution towards it
  (seen at least twice).
- ``explanation_maps``: for occlusion maps, the mean map per predicted class.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlcore.foundation.served import ServedModel
from mlcore.tasks.base import Scored

TOP = 15


def explain_items(predictor: Any, served: ServedModel, test: pd.DataFrame, items: int, chunk: int = 25) -> list[dict]:
    """``predictor.explain`` on the first ``items`` test rows, ``chunk`` at a time ([] where the
    task type or the model has no explanation)."""
    if not served.explains or items <= 0:
        return []
    validated = [served.item.model_validate(row) for row in served.request_items(test.head(items))]
    out: list[dict] = []
    try:
        for start in range(0, len(validated), chunk):
            out.extend(predictor.explain(validated[start : start + chunk]))
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
