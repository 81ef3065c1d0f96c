"""Data tests on the configured dataset (project-owned: assert what you know about your data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlcore.acquire import Source, fetch
from mlcore.config import compose, to_dict
from mlcore.validation import check_frame

from {{ cookiecutter.package_name }}.data import parse_raw

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory):
    cfg = compose(ROOT / "configs")
    raw = tmp_path_factory.mktemp("raw") / "dataset"
    fetch(Source.from_config(cfg.data.source), raw, project=ROOT)
    return cfg, parse_raw(raw, cfg.data)


def test_schema(dataset) -> None:
    cfg, frame = dataset
    report = check_frame(frame, to_dict(cfg.data.schema))
    assert report.ok, report.errors


def test_sample_size(dataset) -> None:
    _, frame = dataset
    assert len(frame) == 272
    assert frame.notna().all().all()
