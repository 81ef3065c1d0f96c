"""Metrics per slice of the test split, with the worst slice named: where a model that is good on
average fails a group (short messages, one neighbourhood, one class). Pure functions over the
test rows and each row's score; the evaluate stage scores the rows with the served predictor.

A slicing (``evaluate.slices.by`` in the config) names a column and how to group it: by value
(the ``top`` most frequent values, the rest as "other"), or by a measure (``chars``, ``words`` of
a text, or the ``value`` itself) cut at ``bins``. Groups smaller than ``min_rows`` are reported
but never named worst: a handful of rows says little.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

LOWER_IS_BETTER = {"abs_error"}


@dataclass(frozen=True)
class Slicing:
    name: str
    column: str
    measure: str = "value"  # value | chars | words
    bins: list[float] = field(default_factory=list)  # cut points of the measure; none: group by value
    top: int = 8  # grouping by value: the most frequent values kept, the rest "other"
    min_rows: int = 20

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> Slicing:
        return cls(**{k: (list(v) if k == "bins" else v) for k, v in dict(spec).items()})


def groups(frame: pd.DataFrame, slicing: Slicing) -> pd.Series:
    """Each row's group under ``slicing``, as text ("<20 chars", "North_Ames", "other")."""
    column = frame[slicing.column]
    if slicing.measure == "chars":
        values = column.astype(str).str.len()
    elif slicing.measure == "words":
        values = column.astype(str).str.split().str.len()
    else:
        values = column
    if slicing.bins:
        edges = list(slicing.bins)
        labels = [
            f"{_num(lo)} to {_num(hi)} {_unit(slicing)}".strip() for lo, hi in zip(edges, edges[1:], strict=False)
        ]
        return pd.cut(values.astype(float), edges, labels=labels, right=False).astype(str)
    kept = values.astype(str).value_counts().index[: slicing.top]
    return values.astype(str).where(values.astype(str).isin(kept), "other")


def _num(value: float) -> str:
    return "inf" if np.isinf(value) else f"{value:g}"


def _unit(slicing: Slicing) -> str:
    return {"chars": "chars", "words": "words"}.get(slicing.measure, "")


def slice_table(frame: pd.DataFrame, scores: Sequence[float], slicings: Sequence[Slicing], metric: str) -> pd.DataFrame:
    """One row per (slice, group): rows and the mean of ``scores`` (1/0 for accuracy, the error for
    abs_error), worst first among the groups with enough rows."""
    scored = pd.Series(np.asarray(scores, dtype=float), index=frame.index)
    rows = []
    for slicing in slicings:
        grouped = scored.groupby(groups(frame, slicing), observed=True)
        for group, part in grouped:
            rows.append({"slice": slicing.name, "group": str(group), "rows": int(len(part)), metric: float(part.mean()),
                         "enough_rows": bool(len(part) >= slicing.min_rows)})  # fmt: skip
    table = pd.DataFrame(rows, columns=["slice", "group", "rows", metric, "enough_rows"])
    ascending = metric not in LOWER_IS_BETTER
    return table.sort_values(["enough_rows", metric], ascending=[False, ascending]).reset_index(drop=True)


def worst(table: pd.DataFrame, metric: str) -> dict[str, Any] | None:
    """The worst group with enough rows, or None."""
    enough = table[table["enough_rows"]]
    return None if enough.empty else enough.iloc[0].to_dict()


def row_scores(
    answers: Sequence[Mapping[str, Any]], truth: Sequence[Any], answer_field: str, metric: str
) -> list[float]:
    """Each row's score: 1.0 / 0.0 for a right / wrong answer (accuracy), the absolute error (abs_error)."""
    if metric == "accuracy":
        return [float(str(a[answer_field]) == str(t)) for a, t in zip(answers, truth, strict=True)]
    if metric == "abs_error":
        return [abs(float(a[answer_field]) - float(t)) for a, t in zip(answers, truth, strict=True)]
    raise ValueError(f"evaluate.slices.metric={metric!r} is not one of accuracy, abs_error")
