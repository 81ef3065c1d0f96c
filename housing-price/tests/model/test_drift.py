"""Drift: new-build traffic (houses built after 2000) is flagged, a resample of the data is not."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from mlcore.monitoring.drift import Thresholds, compare

from housing_price.predictor import load_predictor, request_items

pytestmark = pytest.mark.slow


def _setup(trained: dict[str, Any]):
    root, cfg = trained["root"], trained["cfg"]
    model_dir = root / cfg.paths.export
    profile = json.loads((model_dir / "extra_files" / "reference_profile.json").read_text())
    data = pd.concat([pd.read_parquet(root / cfg.paths.processed / f"{n}.parquet") for n in ("train", "test")])
    return load_predictor(model_dir), profile, Thresholds(**cfg.monitor.thresholds), data


def test_resample_is_quiet(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds, data = _setup(trained)
    sample = data.sample(n=300, random_state=3)
    report = compare(profile, predictor.drift_frame(request_items(sample)), thresholds)
    assert not report["drift_detected"], report["drifted_features"]


def test_new_builds_are_flagged(trained: dict[str, Any]) -> None:
    predictor, profile, thresholds, data = _setup(trained)
    new = data[data["Year_Built"] > 2000]
    report = compare(profile, predictor.drift_frame(request_items(new)), thresholds)
    assert report["drift_detected"]
    assert {"Year_Built", "Year_Remod_Add", "prediction"} <= set(report["drifted_features"])


def test_drift_frame_keeps_every_number_numeric(trained: dict[str, Any]) -> None:
    """Required numbers (Gr_Liv_Area, Year_Built) too: an object column breaks the HTML report."""
    predictor, _, _, data = _setup(trained)
    frame = predictor.drift_frame(request_items(data.head(50)))
    numeric = [name for name in data.columns if name in frame.columns and pd.api.types.is_numeric_dtype(data[name])]
    assert {"Gr_Liv_Area", "Year_Built"} <= set(numeric)
    assert all(pd.api.types.is_float_dtype(frame[name]) for name in numeric), frame.dtypes[numeric]
