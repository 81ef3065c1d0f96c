"""Data tests on the configured dataset (project-owned: assert what you know about your data)."""

from __future__ import annotations

from mlcore.config import to_dict
from mlcore.validation import check_frame


def test_schema(dataset) -> None:
    cfg, frame = dataset
    report = check_frame(frame, to_dict(cfg.data.schema))
    assert report.ok, report.errors


def test_sample_size(dataset) -> None:
    _, frame = dataset
    assert len(frame) == 272
    assert frame.notna().all().all()
