"""Stage train: fit on the train split, calibrate the prediction interval on validation, log to MLflow.

``train(cfg)`` is a plain function (tests call it); ``main()`` is the DVC stage entry that reads
params.yaml. The model is logged with its signature, input example, explicit pip requirements,
interval width and the reference profile for drift checks, and copied to models/model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore import tracking
from mlcore.config import load_params, to_dict
from mlcore.drift import build_profile
from mlcore.evaluation import conformal_halfwidth, regression_metrics
from mlcore.progress import say, step
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..model import build_model
from ..schemas import Predictor


def load_split(cfg: DictConfig, name: str, root: Path = PROJECT_ROOT) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_parquet(root / cfg.paths.processed / f"{name}.parquet")
    return frame.drop(columns=[cfg.data.target]), frame[cfg.data.target].to_numpy(dtype=float)


def fit(cfg: DictConfig, root: Path = PROJECT_ROOT) -> tuple[Predictor, dict[str, float]]:
    """Fit the pipeline and calibrate the interval; return the predictor and validation metrics."""
    x_train, y_train = load_split(cfg, "train", root)
    x_val, y_val = load_split(cfg, "val", root)
    with step("train", f"fit {cfg.model.name} on {len(x_train)} rows"):
        pipeline = build_model(cfg.model, cfg.data, seed=cfg.train.split.seed).fit(x_train, y_train)
    pred_val = np.asarray(pipeline.predict(x_val), dtype=float)
    halfwidth = conformal_halfwidth(np.log(y_val) - np.log(np.clip(pred_val, 1e-9, None)), cfg.train.interval_coverage)
    metrics = {f"val_{k}": v for k, v in regression_metrics(y_val, pred_val).items()}
    features = [*cfg.data.features.numeric, *cfg.data.features.categorical]
    return Predictor(pipeline, halfwidth, cfg.train.interval_coverage, features), metrics


def trial(cfg: DictConfig) -> float:
    """One sweep trial (inside an MLflow run): fit, score on validation, log, return the metric."""
    _, metrics = fit(cfg)
    return tracking.log_trial(to_dict(cfg.model), metrics, cfg.optimized_metric)


def train(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    tracking.configure(root, cfg.project.experiment)
    predictor, metrics = fit(cfg, root)
    x_val, _ = load_split(cfg, "val", root)
    # Inputs carry no fitting bias, so the reference is every row the model has seen.
    seen = pd.concat([load_split(cfg, "train", root)[0], x_val], ignore_index=True)
    with step("train", f"reference profile for drift ({len(seen)} rows)"):
        reference = predictor.drift_frame(seen.to_dict(orient="records"))
        profile = build_profile(reference, categorical=list(cfg.data.features.categorical), seed=cfg.train.split.seed)
    example = x_val.head(3)
    run_info = tracking.log_training_run(
        root=root,
        config=to_dict(cfg),
        predictor=predictor,
        package="housing_price",
        metrics=metrics,
        profile=profile,
        metadata={
            "interval_log_halfwidth": predictor.halfwidth,
            "interval_coverage": predictor.coverage,
            "features": predictor.features,
            "target": cfg.data.target,
            "task_type": cfg.project.task_type,
        },
        input_example=example,
        data_files={name: root / cfg.paths.processed / f"{name}.parquet" for name in ("train", "val", "test")},
        local_dir=root / cfg.paths.model,
        run_name=cfg.model.name,
    )
    tracking.write_json(run_info, root / cfg.paths.run_info)
    say("train", f"run {run_info['run_id'][:8]}: val_r2={metrics['val_r2']:.4f} val_rmse={metrics['val_rmse']:.2f}")
    return run_info


def main() -> None:
    train(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
