"""What this project's task does, for the suite's generic stages (``mlcore.tasks``). Project-owned.

Regression with a split-conformal interval: fit on the train split, calibrate the interval on
validation (``train.interval_scale``: log or linear), score on test; evaluation adds k-fold
cross-validation and permutation importance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from mlcore.foundation.progress import step
from mlcore.tasks import Fitted, Reference, Scored
from mlcore.tasks.metrics import (
    conformal_halfwidth,
    interval,
    interval_residuals,
    regression_metrics,
    regression_plot_data,
)
from omegaconf import DictConfig
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from tqdm import tqdm

from .model import build_model
from .predictor import SERVED, Predictor


def xy(frame: pd.DataFrame, cfg: DictConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """Inputs and target of a split."""
    return frame.drop(columns=[cfg.data.target]), frame[cfg.data.target].to_numpy(dtype=float)


def cross_validate(cfg: DictConfig, frame: pd.DataFrame) -> dict[str, float]:
    """K-fold CV of the configured model on frame (train + validation): mean and std."""
    folds = KFold(n_splits=cfg.train.cv_folds, shuffle=True, random_state=cfg.train.split.seed)
    x, y = xy(frame, cfg)
    scores: dict[str, list[float]] = {}
    for fit_idx, score_idx in tqdm(
        folds.split(x), total=cfg.train.cv_folds, desc="cv folds", disable=None, leave=False
    ):
        model = build_model(cfg.model, cfg.data, seed=cfg.train.split.seed).fit(x.iloc[fit_idx], y[fit_idx])
        for name, value in regression_metrics(y[score_idx], model.predict(x.iloc[score_idx])).items():
            scores.setdefault(name, []).append(value)
    out = {}
    for name, values in scores.items():
        out[f"cv_{name}_mean"], out[f"cv_{name}_std"] = float(np.mean(values)), float(np.std(values))
    return out


def importance(predictor: Predictor, test: pd.DataFrame, cfg: DictConfig, top: int = 20) -> pd.DataFrame:
    """Permutation importance (mean drop in R^2 over ``train.permutation_repeats`` shuffles) of each
    input feature on the test split, one feature at a time behind a progress bar."""
    x, y = xy(test, cfg)
    rng = np.random.default_rng(0)
    baseline = r2_score(y, predictor.pipeline.predict(x))
    drops = []
    for name in tqdm(x.columns, desc="permutation importance", disable=None, leave=False):
        shuffled = x.copy()
        scores = []
        for _ in range(cfg.train.permutation_repeats):
            shuffled[name] = rng.permutation(x[name].to_numpy())
            scores.append(r2_score(y, predictor.pipeline.predict(shuffled)))
        drops.append(baseline - float(np.mean(scores)))
    table = pd.DataFrame({"feature": x.columns, "importance": drops})
    return table.sort_values("importance", ascending=False).head(top).reset_index(drop=True)


class TabularRegression:
    served = SERVED
    headline = ("test_r2", "test_rmse", "test_mae", "test_interval_coverage", "cv_r2_mean", "cv_r2_std")

    def fit(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Fitted:
        (x_train, y_train), (x_val, y_val) = xy(train, cfg), xy(val, cfg)
        with step("train", f"fit {cfg.model.name} on {len(x_train)} rows"):
            pipeline = build_model(cfg.model, cfg.data, seed=cfg.train.split.seed).fit(x_train, y_train)
        pred_val = np.asarray(pipeline.predict(x_val), dtype=float)
        scale, coverage = cfg.train.interval_scale, cfg.train.interval_coverage
        halfwidth = conformal_halfwidth(interval_residuals(y_val, pred_val, scale), coverage)
        metrics = {f"val_{k}": v for k, v in regression_metrics(y_val, pred_val).items()}
        features = [*cfg.data.features.numeric, *cfg.data.features.categorical]
        predictor = Predictor(pipeline, halfwidth, coverage, features, scale)
        summary = f"val_r2={metrics['val_r2']:.4f} val_rmse={metrics['val_rmse']:.2f}"
        return Fitted(predictor, pipeline, metrics, summary=summary)

    def reference(self, fitted: Fitted, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Reference:
        # Inputs carry no fitting bias, so the reference is every row the model has seen.
        seen = pd.concat([xy(train, cfg)[0], xy(val, cfg)[0]], ignore_index=True)
        frame = fitted.predictor.drift_frame(seen.to_dict(orient="records"))
        return Reference(frame, categorical=list(cfg.data.features.categorical), seed=cfg.train.split.seed)

    def metadata(self, fitted: Fitted, cfg: DictConfig) -> dict[str, Any]:
        predictor = fitted.predictor
        return {
            "interval_halfwidth": predictor.halfwidth,
            "interval_scale": predictor.scale,
            "interval_coverage": predictor.coverage,
            "features": predictor.features,
            "target": cfg.data.target,
        }

    def input_example(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> pd.DataFrame:
        return xy(val, cfg)[0].head(3)

    def score(self, predictor: Predictor, test: pd.DataFrame, cfg: DictConfig) -> Scored:
        x, y = xy(test, cfg)
        pred = predictor.values(x)
        metrics = {f"test_{k}": v for k, v in regression_metrics(y, pred).items()}
        low, high = interval(pred, predictor.halfwidth, predictor.scale)
        metrics["test_interval_coverage"] = float(np.mean((y >= low) & (y <= high)))
        return Scored(metrics, regression_plot_data(y, pred))

    def assess(self, predictor: Predictor, cfg: DictConfig, splits: Mapping[str, pd.DataFrame]) -> Scored:
        with step("evaluate", f"{cfg.train.cv_folds}-fold cross-validation on train + validation"):
            cv = cross_validate(cfg, pd.concat([splits["train"], splits["val"]], ignore_index=True))
        with step("evaluate", "permutation importance on the test split"):
            table = importance(predictor, splits["test"], cfg)
        return Scored(cv, {"permutation_importance": table})


TASK = TabularRegression()
