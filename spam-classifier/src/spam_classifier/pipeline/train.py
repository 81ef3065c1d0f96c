"""Stage train: fit on the train split, pick the decision threshold on validation, log to MLflow.

``train(cfg)`` is a plain function (tests call it); ``main()`` is the DVC stage entry that reads
params.yaml. The model is saved locally (DVC output) and logged to MLflow with its signature,
input example, explicit pip requirements, threshold and the reference profile for drift checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore import tracking
from mlcore.config import load_params, to_dict
from mlcore.drift import build_profile
from mlcore.evaluation import choose_threshold, classification_metrics
from mlcore.progress import say, step
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..model import build_model
from ..schemas import Predictor


def load_split(cfg: DictConfig, name: str, root: Path = PROJECT_ROOT) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_parquet(root / cfg.paths.processed / f"{name}.parquet")
    return frame, (frame["label"] == cfg.data.labels[1]).to_numpy(dtype=int)


def fit(cfg: DictConfig, root: Path = PROJECT_ROOT) -> tuple[Predictor, dict[str, float]]:
    """Fit the pipeline and choose the threshold; return the predictor and validation metrics."""
    train_df, y_train = load_split(cfg, "train", root)
    val_df, y_val = load_split(cfg, "val", root)
    with step("train", f"fit {cfg.model.name} on {len(train_df)} messages"):
        pipeline = build_model(cfg.model, seed=cfg.train.split.seed).fit(train_df["text"], y_train)
    val_scores = pipeline.predict_proba(val_df["text"])[:, 1]
    threshold = choose_threshold(y_val, val_scores, cfg.train.target_precision)
    metrics = {f"val_{k}": v for k, v in classification_metrics(y_val, val_scores, threshold).items()}
    return Predictor(pipeline, threshold, list(cfg.data.labels)), metrics


def trial(cfg: DictConfig) -> float:
    """One sweep trial (inside an MLflow run): fit, score on validation, log, return the metric."""
    _, metrics = fit(cfg)
    return tracking.log_trial(to_dict(cfg.model), metrics, cfg.optimized_metric)


def train(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    tracking.configure(root, cfg.project.experiment)
    predictor, metrics = fit(cfg, root)
    train_df, _ = load_split(cfg, "train", root)
    val_df, _ = load_split(cfg, "val", root)
    # The drift reference is the held-out validation split: on the training split itself every
    # word is in the vocabulary and scores are over-confident, unlike on any real traffic.
    with step("train", "reference profile for drift (validation split)"):
        items = [{"text": t} for t in val_df["text"]]
        profile = build_profile(
            predictor.drift_frame(items), categorical=["predicted_positive"], seed=cfg.train.split.seed
        )
    example = train_df[["text"]].head(3)
    run_info = tracking.log_training_run(
        root=root,
        config=to_dict(cfg),
        predictor=predictor,
        package="spam_classifier",
        metrics=metrics,
        profile=profile,
        metadata={
            "threshold": predictor.threshold,
            "labels": list(cfg.data.labels),
            "task_type": cfg.project.task_type,
        },
        input_example=example,
        data_files={name: root / cfg.paths.processed / f"{name}.parquet" for name in ("train", "val", "test")},
        local_dir=root / cfg.paths.model,
        run_name=cfg.model.name,
    )
    tracking.write_json(run_info, root / cfg.paths.run_info)
    say("train", f"run {run_info['run_id'][:8]}: val_f1={metrics['val_f1']:.4f} threshold={predictor.threshold:.3f}")
    return run_info


def main() -> None:
    train(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
