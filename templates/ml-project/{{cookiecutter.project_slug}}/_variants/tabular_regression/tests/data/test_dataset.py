"""Data tests on the configured dataset (project-owned: assert what you know about your data)."""

from __future__ import annotations

from mlcore.data.validation import check_frame
from mlcore.foundation.config import to_dict


def test_schema(dataset) -> None:
    cfg, frame = dataset
    report = check_frame(frame, to_dict(cfg.data.schema))
    assert report.ok, report.errors


def test_sample_size_and_target_range(dataset) -> None:
    cfg, frame = dataset
    assert len(frame) == 1500
    assert frame[cfg.data.target].between(300, 20000).all()


def test_out_of_range_values_are_caught(dataset) -> None:
    cfg, frame = dataset
    broken = frame.copy()
    broken.loc[0, "carat"] = -1.0
    broken.loc[1, "cut"] = "Astonishing"
    errors = check_frame(broken, to_dict(cfg.data.schema)).errors
    assert any(e.startswith("carat") for e in errors)
    assert any(e.startswith("cut") for e in errors)
