"""mlcore.tasks.slices: rows grouped by value or by a measure cut at bins, the metric per group,
the worst group with enough rows named (and never a group too small to judge)."""

from __future__ import annotations

import pandas as pd
import pytest
from mlcore.tasks.slices import Slicing, groups, row_scores, slice_table, worst


def test_text_length_bins_and_top_values() -> None:
    frame = pd.DataFrame({"text": ["hi", "a longer message here", "x" * 50], "town": ["a", "b", "c"]})
    by_length = Slicing("length", "text", measure="chars", bins=[0, 10, 30, 1_000_000])
    assert groups(frame, by_length).tolist() == ["0 to 10 chars", "10 to 30 chars", "30 to 1e+06 chars"]
    assert groups(frame, Slicing("town", "town", top=2)).tolist() == ["a", "b", "other"]
    words = Slicing("words", "text", measure="words", bins=[0, 2, 100])
    assert groups(frame, words).tolist() == ["0 to 2 words", "2 to 100 words", "0 to 2 words"]


def test_the_worst_group_with_enough_rows_is_named() -> None:
    frame = pd.DataFrame({"label": ["a"] * 30 + ["b"] * 30 + ["c"] * 3})
    right = [1.0] * 30 + [1.0] * 20 + [0.0] * 10 + [0.0] * 3  # b: 2/3 right; c: none right but 3 rows
    table = slice_table(frame, right, [Slicing("class", "label")], "accuracy")
    assert table.iloc[0][["group", "accuracy", "rows"]].tolist() == ["b", pytest.approx(2 / 3), 30]
    assert worst(table, "accuracy")["group"] == "b"
    assert table.iloc[-1]["group"] == "c" and not table.iloc[-1]["enough_rows"]


def test_errors_are_worst_when_largest() -> None:
    frame = pd.DataFrame({"town": ["a"] * 25 + ["b"] * 25})
    errors = row_scores([{"prediction": p} for p in [10.0] * 25 + [30.0] * 25], [12.0] * 50, "prediction", "abs_error")
    table = slice_table(frame, errors, [Slicing("town", "town")], "abs_error")
    assert worst(table, "abs_error") | {} == {
        "slice": "town",
        "group": "b",
        "rows": 25,
        "abs_error": 18.0,
        "enough_rows": True,
    }
    assert row_scores([{"label": "spam"}, {"label": "ham"}], ["spam", "spam"], "label", "accuracy") == [1.0, 0.0]
    with pytest.raises(ValueError, match="not one of"):
        row_scores([], [], "label", "f1")
