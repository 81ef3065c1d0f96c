"""What this project's task does, for the suite's generic stages (``mlcore.tasks``). Project-owned.

Binary text classification: fit the text pipeline on the train split, choose the decision
threshold on validation for ``train.target_precision``, score at that threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from mlcore.foundation.progress import step
from mlcore.tasks import Fitted, Reference, Scored
from mlcore.tasks.metrics import choose_threshold, classification_metrics, classification_plot_data
from omegaconf import DictConfig

from .model import build_model
from .predictor import SERVED, Predictor, request_items


def labels(frame: pd.DataFrame, cfg: DictConfig) -> np.ndarray:
    """1 for the positive label (``data.labels[1]``), else 0."""
    return (frame["label"] == cfg.data.labels[1]).to_numpy(dtype=int)


class TextClassification:
    served = SERVED
    headline = ("test_precision", "test_recall", "test_f1", "test_roc_auc")

    def fit(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Fitted:
        with step("train", f"fit {cfg.model.name} on {len(train)} messages"):
            pipeline = build_model(cfg.model, seed=cfg.train.split.seed).fit(train["text"], labels(train, cfg))
        y_val, val_scores = labels(val, cfg), pipeline.predict_proba(val["text"])[:, 1]
        threshold = choose_threshold(y_val, val_scores, cfg.train.target_precision)
        metrics = {
            f"val_{k}": v
            for k, v in classification_metrics(y_val, val_scores, threshold, tuple(cfg.data.labels)).items()
        }
        predictor = Predictor(pipeline, threshold, list(cfg.data.labels))
        return Fitted(predictor, pipeline, metrics, summary=f"val_f1={metrics['val_f1']:.4f} threshold={threshold:.3f}")

    def reference(self, fitted: Fitted, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Reference:
        # The held-out validation split: on the training split itself every word is in the
        # vocabulary and scores are over-confident, unlike on any real traffic.
        frame = fitted.predictor.drift_frame(request_items(val))
        return Reference(frame, categorical=["predicted_positive"], seed=cfg.train.split.seed)

    def metadata(self, fitted: Fitted, cfg: DictConfig) -> dict[str, Any]:
        return {"threshold": fitted.predictor.threshold, "labels": list(cfg.data.labels)}

    def input_example(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> pd.DataFrame:
        return train[["text"]].head(3)

    def score(self, predictor: Predictor, test: pd.DataFrame, cfg: DictConfig) -> Scored:
        y, scores = labels(test, cfg), predictor.probabilities(test["text"].tolist())
        metrics = {
            f"test_{k}": v
            for k, v in classification_metrics(y, scores, predictor.threshold, tuple(cfg.data.labels)).items()
        }
        return Scored(metrics, classification_plot_data(y, scores, predictor.threshold, tuple(cfg.data.labels)))

    def assess(self, predictor: Predictor, cfg: DictConfig, splits: Mapping[str, pd.DataFrame]) -> Scored:
        return Scored()


TASK = TextClassification()
