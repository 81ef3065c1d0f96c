"""Drift: a shifted traffic sample is flagged, a sample of the training distribution is not."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from mlcore.monitoring.drift import Thresholds, compare

from {{ cookiecutter.package_name }}.predictor import load_predictor

pytestmark = pytest.mark.slow


def _setup(trained: dict[str, Any]):
    root, cfg = trained["root"], trained["cfg"]
    model_dir = root / cfg.paths.export
    predictor = load_predictor(model_dir)
    profile = json.loads((model_dir / "extra_files" / "reference_profile.json").read_text())
    return predictor, profile, Thresholds(**cfg.monitor.thresholds)


def test_training_distribution_is_quiet(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds = _setup(trained)
    test = pd.read_parquet(trained["root"] / trained["cfg"].paths.processed / "test.parquet")
    report = compare(profile, predictor.drift_frame([{"text": t} for t in test["text"]]), thresholds)
    assert not report["drift_detected"], report["drifted_features"]


def test_shifted_traffic_is_flagged(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds = _setup(trained)
    shifted = [
        f"Dear customer, please find attached invoice number {i} for the quarterly maintenance contract "
        "renewal of your enterprise software licence and confirm receipt at your earliest convenience."
        for i in range(300)
    ]
    report = compare(profile, predictor.drift_frame([{"text": t} for t in shifted]), thresholds)
    assert report["drift_detected"]
    assert {"length", "oov_share"} & set(report["drifted_features"])
