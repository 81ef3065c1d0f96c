"""Multiclass metrics (top-2 accuracy, calibration) and a split that keeps a published test split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlcore.data.splitting import split
from mlcore.tasks.metrics import expected_calibration_error, multiclass_metrics, reliability_table, top_k_accuracy


def test_top_k_accuracy_counts_the_true_class_among_the_k_best() -> None:
    proba = np.array([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    y = np.array([1, 0, 2])
    assert top_k_accuracy(y, proba, 1) == 0.0
    assert top_k_accuracy(y, proba, 2) == pytest.approx(2 / 3)
    assert top_k_accuracy(y, proba, 3) == 1.0


def test_calibration_error_is_zero_when_confidence_matches_accuracy() -> None:
    # 10 rows at confidence 0.8, 8 of them right: perfectly calibrated.
    proba = np.tile([0.8, 0.2], (10, 1))
    y = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(y, proba) == pytest.approx(0.0, abs=1e-12)
    # All wrong at confidence 0.8: ECE 0.8.
    assert expected_calibration_error(np.ones(10, int), proba) == pytest.approx(0.8)
    table = reliability_table(y, proba)
    assert table["count"].sum() == 10 and len(table) == 10


def test_multiclass_metrics_accept_float32_rows() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 4)).astype(np.float32)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    metrics = multiclass_metrics(rng.integers(0, 4, 50), proba, ["a", "b", "c", "d"])
    assert {"accuracy", "f1_macro", "top2_accuracy", "ece", "recall_class_a"} <= set(metrics)


def test_fixed_test_split_is_kept_whole() -> None:
    frame = pd.DataFrame({"split": ["train"] * 80 + ["test"] * 20, "label": ["x", "y"] * 50, "v": range(100)})
    train, val, test = split(frame, val_size=0.25, test_size=0.5, seed=0, stratify="label", fixed_test="split")
    assert sorted(test["v"]) == list(range(80, 100))
    assert len(val) == 20 and len(train) == 60
    assert set(train["v"]).isdisjoint(val["v"])
