"""Drift: a shifted traffic sample is flagged, a sample of the training distribution is not."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from mlcore.drift import Thresholds, compare

from {{ cookiecutter.package_name }}.schemas import load_predictor, request_items

pytestmark = pytest.mark.slow


def _setup(trained: dict[str, Any]):
    root, cfg = trained["root"], trained["cfg"]
    model_dir = root / cfg.paths.export
    profile = json.loads((model_dir / "extra_files" / "reference_profile.json").read_text())
    data = pd.concat([pd.read_parquet(root / cfg.paths.processed / f"{n}.parquet") for n in ("train", "test")])
    return load_predictor(model_dir), profile, Thresholds(**cfg.monitor.thresholds), data


def test_training_distribution_is_quiet(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds, data = _setup(trained)
    sample = data.sample(n=120, random_state=1)
    report = compare(profile, predictor.drift_frame(request_items(sample)), thresholds)
    assert not report["drift_detected"], report["drifted_features"]


def test_shifted_traffic_is_flagged(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds, data = _setup(trained)
    one_group = data[data[data.columns[0]] > data[data.columns[0]].median()]
    report = compare(profile, predictor.drift_frame(request_items(one_group)), thresholds)
    assert report["drift_detected"]
    assert "cluster" in report["drifted_features"] or data.columns[0] in report["drifted_features"]
