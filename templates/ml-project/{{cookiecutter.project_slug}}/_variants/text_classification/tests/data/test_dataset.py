"""Data tests on the configured dataset (project-owned: assert what you know about your data)."""

from __future__ import annotations

from mlcore.data.splitting import dedupe, split
from mlcore.data.validation import check_frame, leakage
from mlcore.foundation.config import to_dict


def test_schema_and_labels(dataset) -> None:
    cfg, frame = dataset
    report = check_frame(frame, to_dict(cfg.data.schema))
    assert report.ok, report.errors
    assert set(frame["label"]) == set(cfg.data.labels)


def test_sample_counts(dataset) -> None:
    _, frame = dataset
    assert len(frame) == 1000
    assert frame["label"].value_counts().to_dict() == {"ham": 700, "spam": 300}


def test_split_has_no_leakage_and_keeps_class_balance(dataset) -> None:
    cfg, frame = dataset
    unique = dedupe(frame, ["text"])
    train, val, test = split(unique, cfg.train.split.val_size, cfg.train.split.test_size, 42, "label")
    assert leakage(train, test, ["text"]) == 0
    assert leakage(train, val, ["text"]) == 0
    assert abs((train["label"] == "spam").mean() - (test["label"] == "spam").mean()) < 0.02
