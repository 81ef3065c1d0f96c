"""Drift: feature drift and segment-share drift are flagged on shifted traffic, quiet otherwise."""

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
    data = pd.concat([pd.read_parquet(root / cfg.paths.processed / f"{n}.parquet") for n in ("train", "test")])
    return load_predictor(model_dir), profile, Thresholds(**cfg.monitor.thresholds), data


def test_training_distribution_is_quiet(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds, data = _setup(trained)
    sample = data.sample(n=120, random_state=1)
    report = compare(profile, predictor.drift_frame(request_items(sample)), thresholds)
    assert not report["drift_detected"], report["drifted_features"]


def test_traffic_from_one_segment_shifts_the_segment_shares(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds, data = _setup(trained)
    labels, _ = predictor.assign(data)
    one_segment = data[labels == labels[0]]
    report = compare(profile, predictor.drift_frame(request_items(one_segment)), thresholds)
    assert report["drift_detected"]
    assert "segment" in report["drifted_features"]
    assert set(report["drifted_features"]) & set(predictor.features)
