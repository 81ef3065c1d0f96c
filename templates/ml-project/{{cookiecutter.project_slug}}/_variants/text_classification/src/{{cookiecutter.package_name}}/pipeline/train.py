"""Stage train: fit on the train split, pick the decision threshold on validation, log to MLflow.

``train(cfg)`` is a plain function (tests call it); ``main()`` is the DVC stage entry that reads
params.yaml. The model is saved locally (DVC output) and logged to MLflow with its signature,
input example, explicit pip requirements, threshold and the reference profile for drift checks.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlcore import tracking
from mlcore.config import load_params, to_dict
from mlcore.drift import build_profile
from mlcore.evaluation import choose_threshold, classification_metrics
from mlcore.progress import say, step
from mlflow.models import infer_signature
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..model import build_model
from ..schemas import Predictor

REQUIREMENTS = ("scikit-learn", "skops", "numpy", "scipy", "pandas")


def load_split(cfg: DictConfig, name: str, root: Path = PROJECT_ROOT) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_parquet(root / cfg.paths.processed / f"{name}.parquet")
    return frame, (frame["label"] == cfg.data.labels[1]).to_numpy(dtype=int)


def fit(cfg: DictConfig, root: Path = PROJECT_ROOT) -> tuple[Predictor, dict[str, float]]:
    """Fit the pipeline and choose the threshold; return the predictor and validation metrics."""
    train_df, y_train = load_split(cfg, "train", root)
    val_df, y_val = load_split(cfg, "val", root)
    with step("train", f"fit {cfg.model.name} on {len(train_df)} messages"):
        pipeline = build_model(cfg.model, seed=cfg.train.split.seed).fit(train_df["text"], y_train)
        tracking.skops_friendly(pipeline)
    val_scores = pipeline.predict_proba(val_df["text"])[:, 1]
    threshold = choose_threshold(y_val, val_scores, cfg.train.target_precision)
    metrics = {f"val_{k}": v for k, v in classification_metrics(y_val, val_scores, threshold).items()}
    return Predictor(pipeline, threshold, list(cfg.data.labels)), metrics


def trial(cfg: DictConfig) -> float:
    """One sweep trial (inside an MLflow run): fit, score on validation, log, return the metric."""
    predictor, metrics = fit(cfg)
    mlflow.log_params({k: str(v)[:250] for k, v in tracking.flatten(to_dict(cfg.model)).items()})
    mlflow.log_metrics(metrics)
    return float(metrics[cfg.optimized_metric])


def train(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    tracking.configure(root, cfg.project.experiment)
    predictor, metrics = fit(cfg, root)
    train_df, _ = load_split(cfg, "train", root)
    val_df, _ = load_split(cfg, "val", root)
    # The drift reference is the held-out validation split: on the training split itself every
    # word is in the vocabulary and scores are over-confident, unlike on any real traffic.
    with step("train", "reference profile for drift (validation split)"):
        items = [{"text": t} for t in val_df["text"]]
        profile = build_profile(predictor.drift_frame(items), categorical=["predicted_positive"], seed=cfg.train.split.seed)
    example = train_df[["text"]].head(3)
    signature = infer_signature(example, predictor.pipeline.predict_proba(example["text"])[:, 1])
    metadata = {"threshold": predictor.threshold, "labels": list(cfg.data.labels), "task_type": cfg.project.task_type}
    splits = {name: root / cfg.paths.processed / f"{name}.parquet" for name in ("train", "val", "test")}
    with tempfile.TemporaryDirectory() as tmp, step("train", "log run and model to MLflow"):
        profile_path = Path(tmp) / "reference_profile.json"
        profile_path.write_text(json.dumps(profile), encoding="utf-8")
        model_args: dict[str, Any] = {
            "serialization_format": "skops", "signature": signature, "input_example": example,
            "pip_requirements": tracking.pip_requirements(REQUIREMENTS), "metadata": metadata,
            "extra_files": [str(profile_path)],
        }
        with mlflow.start_run(run_name=f"{cfg.model.name}") as run:
            tracking.log_run_context(root, to_dict(cfg), splits)
            mlflow.log_metrics(metrics)
            info = mlflow.sklearn.log_model(predictor.pipeline, name="model", **model_args)
        local = root / cfg.paths.model
        shutil.rmtree(local, ignore_errors=True)
        mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=str(local))
    run_info = {"run_id": run.info.run_id, "model_uri": info.model_uri, "model_id": info.model_id,
                "threshold": predictor.threshold, **metrics}
    out = root / cfg.paths.run_info
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(run_info, indent=2) + "\n", encoding="utf-8")
    say("train", f"run {run.info.run_id[:8]}: val_f1={metrics['val_f1']:.4f} threshold={predictor.threshold:.3f}")
    return run_info


def main() -> None:
    train(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
