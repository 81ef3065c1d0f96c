"""Drift: a shifted traffic sample is flagged, a sample of the training distribution is not."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from mlcore.monitoring.drift import Thresholds, compare

from {{ cookiecutter.package_name }}.predictor import load_predictor, request_items

pytestmark = pytest.mark.slow


def _setup(trained: dict[str, Any]):
    root, cfg = trained["root"], trained["cfg"]
    model_dir = root / cfg.paths.export
    profile = json.loads((model_dir / "extra_files" / "reference_profile.json").read_text())
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet")
    return load_predictor(model_dir), profile, Thresholds(**cfg.monitor.thresholds), test


def test_training_distribution_is_quiet(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds, test = _setup(trained)
    report = compare(profile, predictor.drift_frame(request_items(test)), thresholds)
    assert not report["drift_detected"], report["drifted_features"]


def test_shifted_traffic_is_flagged(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds, test = _setup(trained)
    big_stones = test[test["carat"] >= test["carat"].quantile(0.6)]
    report = compare(profile, predictor.drift_frame(request_items(big_stones)), thresholds)
    assert report["drift_detected"]
    assert "carat" in report["drifted_features"]
