"""Data tests on the configured dataset (project-owned: assert what you know about your data)."""

from __future__ import annotations

from mlcore.data.validation import check_frame
from mlcore.foundation.config import to_dict


def test_schema(dataset) -> None:
    cfg, frame = dataset
    report = check_frame(frame, to_dict(cfg.data.schema))
    assert report.ok, report.errors


def test_sample_size(dataset) -> None:
    _, frame = dataset
    assert len(frame) == 272
    assert frame.notna().all().all()
