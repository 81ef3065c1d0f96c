from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlcore.monitoring.drift import Thresholds, build_profile, compare, psi


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(0, 1, 5000), "kind": rng.choice(["a", "b", "c"], 5000, p=[0.6, 0.3, 0.1])})


def test_psi_is_zero_for_identical_and_grows_with_shift() -> None:
    ref = np.array([0.25, 0.25, 0.25, 0.25])
    assert psi(ref, ref) == pytest.approx(0)
    assert psi(ref, [0.4, 0.3, 0.2, 0.1]) < psi(ref, [0.7, 0.1, 0.1, 0.1])


def test_resample_is_quiet(reference: pd.DataFrame) -> None:
    profile = build_profile(reference, categorical=["kind"])
    report = compare(profile, reference.sample(2000, random_state=1), Thresholds())
    assert not report["drift_detected"], report["features"]


def test_shift_in_numeric_and_categorical_is_flagged(reference: pd.DataFrame) -> None:
    profile = build_profile(reference, categorical=["kind"])
    shifted = reference.sample(2000, random_state=2).assign(x=lambda f: f["x"] + 1.0, kind="c")
    report = compare(profile, shifted, Thresholds())
    assert set(report["drifted_features"]) == {"x", "kind"}
    assert report["features"]["x"]["psi"] > 0.2 and report["features"]["kind"]["chi2_p_value"] < 1e-6


def test_large_windows_are_sampled(reference: pd.DataFrame) -> None:
    profile = build_profile(reference, categorical=["kind"])
    big = pd.concat([reference] * 40, ignore_index=True)
    report = compare(profile, big, Thresholds(), sample_size=10_000)
    assert report["n_current"] == 10_000


def test_missing_feature_is_named(reference: pd.DataFrame) -> None:
    profile = build_profile(reference)
    with pytest.raises(KeyError, match="kind"):
        compare(profile, reference[["x"]], Thresholds())


def test_rare_categories_are_pooled_so_resamples_stay_quiet() -> None:
    rng = np.random.default_rng(5)
    names = [f"c{i}" for i in range(30)]
    weights = np.array([30.0] * 5 + [1.0] * 25)
    frame = pd.DataFrame({"kind": rng.choice(names, 800, p=weights / weights.sum())})
    profile = build_profile(frame, categorical=["kind"], min_share=0.02)
    assert "__other__" in profile["features"]["kind"]["shares"]
    report = compare(profile, frame.sample(300, random_state=1), Thresholds())
    assert not report["drift_detected"], report["features"]
