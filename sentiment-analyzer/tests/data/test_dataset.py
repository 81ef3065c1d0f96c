"""The configured dataset: the counts its source promises, both labels, no empty texts."""

from __future__ import annotations

from typing import Any


def test_counts_and_labels(dataset: tuple[Any, Any]) -> None:
    cfg, frame = dataset
    counts = cfg.data.counts
    assert len(frame) == counts.rows
    assert frame["label"].value_counts().to_dict() == {"positive": counts.positive, "negative": counts.negative}


def test_texts_are_present_and_ids_follow_the_text(dataset: tuple[Any, Any]) -> None:
    _, frame = dataset
    assert frame["text"].str.strip().ne("").all()
    assert (frame.groupby("id")["text"].nunique() == 1).all()  # an id names one text (duplicates share it)
