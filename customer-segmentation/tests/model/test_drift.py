"""Drift: feature drift and segment-share drift are flagged on shifted traffic, quiet otherwise."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from mlcore.monitoring.drift import Thresholds, compare

from customer_segmentation.predictor import load_predictor, request_items

pytestmark = pytest.mark.slow


def _setup(trained: dict[str, Any]):
    root, cfg = trained["root"], trained["cfg"]
    model_dir = root / cfg.paths.export
    profile = json.loads((model_dir / "extra_files" / "reference_profile.json").read_text())
    data = pd.concat([pd.read_parquet(root / cfg.paths.processed / f"{n}.parquet") for n in ("train", "test")])
    return load_predictor(model_dir), profile, Thresholds(**cfg.monitor.thresholds), data


def test_customers_like_the_training_ones_are_quiet(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds, data = _setup(trained)
    sample = data.sample(n=300, random_state=1)
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


def test_a_later_snapshot_is_flagged(trained: dict[str, Any]) -> None:
    """The same customers scored a year later: everyone's recency grows by 365 days."""
    predictor, profile, thresholds, data = _setup(trained)
    later = data.sample(n=300, random_state=2).assign(
        recency_days=lambda f: f["recency_days"] + 365,
        tenure_days=lambda f: f["tenure_days"] + 365,
        mean_gap_days=lambda f: f["mean_gap_days"].where(f["frequency"] > 1, f["mean_gap_days"] + 365),
    )
    report = compare(profile, predictor.drift_frame(request_items(later)), thresholds)
    assert report["drift_detected"]
    assert "recency_days" in report["drifted_features"]
