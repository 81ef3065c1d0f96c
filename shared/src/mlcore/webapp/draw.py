"""The answer and its explanation as things to show: a headline, highlighted words, a bar chart's
table, an image, a segment profile. Pure functions over ``/predict``'s and ``/explain``'s JSON."""

from __future__ import annotations

import base64
import html
from typing import Any

import pandas as pd


def headline(answer: dict[str, Any]) -> tuple[str, str]:
    """The answer in a few words: (what, detail), e.g. ("spam", "probability 0.997")."""
    if "label" in answer:
        score = next((answer[k] for k in ("probability", *answer) if k.endswith("probability") and k in answer), None)
        return str(answer["label"]), (f"probability {score:.3f}" if isinstance(score, float) else "")
    if "prediction" in answer:
        low, high = answer.get("interval", [None, None])
        unit = answer.get("currency", "")
        detail = f"{answer.get('interval_coverage', 0):.0%} interval {low:,.0f} to {high:,.0f} {unit}" if low else ""
        return f"{answer['prediction']:,.2f} {unit}".strip(), detail
    if "segment" in answer:
        return str(answer.get("segment_name", answer["segment"])), f"segment {answer['segment']}"
    first = next(iter(answer.items()), ("answer", ""))
    return str(first[1]), ""


def answered_outcome(answer: dict[str, Any], field: str, kind: str) -> Any:
    """What the answer said, as the feedback's ``field`` takes it ("Right" sends it back): the
    field itself, else the label, else (for a number) the prediction or the first number."""
    for key in (field, "label", "prediction"):
        if key in answer:
            return answer[key]
    if kind == "number":
        return next((v for v in answer.values() if isinstance(v, int | float) and not isinstance(v, bool)), None)
    return None


def highlighted(words: list[dict[str, Any]]) -> str:
    """HTML of the words, each on a background as strong as its contribution (red: towards the
    answer, blue: against it), its value on hover."""
    peak = max((abs(float(w["contribution"])) for w in words), default=0.0) or 1.0
    spans = []
    for word in words:
        share = float(word["contribution"]) / peak
        colour = f"rgba(220, 40, 40, {abs(share):.2f})" if share > 0 else f"rgba(40, 90, 230, {abs(share):.2f})"
        title = f"{float(word['contribution']):+.4f}"
        text = html.escape(str(word["name"]))
        spans.append(
            f'<span title="{title}" style="background:{colour};padding:1px 2px;border-radius:3px">{text}</span>'
        )
    return '<p style="line-height:2">' + " ".join(spans) + "</p>"


def contributions(terms: list[dict[str, Any]]) -> pd.DataFrame:
    """The terms as a table for a bar chart: a label (with the item's value where known, and the
    word's position where a word repeats) and the contribution, largest first."""
    names = [str(term["name"]) for term in terms]
    rows = []
    for k, term in enumerate(terms):
        label = names[k]
        if term.get("value") is not None:
            label = f"{label} = {term['value']}"
        elif names.count(names[k]) > 1:
            label = f"{label} (word {term.get('position', k) + 1})"
        rows.append({"term": label, "contribution": float(term["contribution"])})
    frame = pd.DataFrame(rows, columns=["term", "contribution"])
    return frame.reindex(frame["contribution"].abs().sort_values(ascending=False).index)


def profile(terms: list[dict[str, Any]]) -> pd.DataFrame | None:
    """For a segment: the item beside its segment's and the runner-up's centres, per feature."""
    if not terms or "segment_centre" not in terms[0]:
        return None
    return pd.DataFrame(
        [
            {
                "feature": t["name"],
                "this customer": t["value"],
                "segment centre": t["segment_centre"],
                "runner-up centre": t["runner_up_centre"],
                "contribution": t["contribution"],
            }
            for t in terms
        ]
    )


def picture(explanation: dict[str, Any]) -> bytes | None:
    """The heat map overlay's PNG bytes, where the explanation has one."""
    encoded = explanation.get("overlay_png")
    return base64.b64decode(encoded) if encoded else None
