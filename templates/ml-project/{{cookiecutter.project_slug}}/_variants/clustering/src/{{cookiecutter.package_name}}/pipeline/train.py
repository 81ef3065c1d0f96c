"""Stage train: fit the clustering pipeline on the train split, log to MLflow.

``train(cfg)`` is a plain function (tests call it); ``main()`` is the DVC stage entry that reads
params.yaml. The model is logged with its signature, input example, explicit pip requirements and
the reference profile for drift checks, and copied to models/model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlcore import tracking
from mlcore.config import load_params, to_dict
from mlcore.drift import build_profile
from mlcore.evaluation import clustering_metrics
from mlcore.progress import say, step
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..model import build_model
from ..schemas import Predictor


def load_split(cfg: DictConfig, name: str, root: Path = PROJECT_ROOT) -> pd.DataFrame:
    return pd.read_parquet(root / cfg.paths.processed / f"{name}.parquet")[list(cfg.data.features.numeric)]


def fit(cfg: DictConfig, root: Path = PROJECT_ROOT, seed: int | None = None) -> tuple[Predictor, dict[str, float]]:
    """Fit the pipeline; return the predictor and validation metrics."""
    train_df, val_df = load_split(cfg, "train", root), load_split(cfg, "val", root)
    with step("train", f"fit {cfg.model.name} (k={cfg.model.n_clusters}) on {len(train_df)} rows"):
        pipeline = build_model(cfg.model, cfg.data, seed=cfg.train.split.seed if seed is None else seed).fit(train_df)
    predictor = Predictor(pipeline, cfg.data.features.numeric)
    labels, _ = predictor.assign(val_df)
    points = predictor.preprocess.transform(val_df)
    metrics = {f"val_{k}": v for k, v in clustering_metrics(points, labels).items()}
    return predictor, metrics


def trial(cfg: DictConfig) -> float:
    """One sweep trial (inside an MLflow run): fit, score on validation, log, return the metric."""
    _, metrics = fit(cfg)
    return tracking.log_trial(to_dict(cfg.model), metrics, cfg.optimized_metric)


def train(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    tracking.configure(root, cfg.project.experiment)
    predictor, metrics = fit(cfg, root)
    val_df = load_split(cfg, "val", root)
    # Raw features carry no fitting bias, so the reference is every row the model has seen.
    reference = pd.concat([load_split(cfg, "train", root), val_df], ignore_index=True)
    with step("train", f"reference profile for drift ({len(reference)} rows)"):
        profile = build_profile(predictor.drift_frame(reference.to_dict(orient="records")), categorical=["cluster"])
    example = val_df.head(3)
    run_info = tracking.log_training_run(
        root=root,
        config=to_dict(cfg),
        model=predictor.pipeline,
        metrics=metrics,
        profile=profile,
        metadata={
            "features": predictor.features,
            "n_clusters": int(cfg.model.n_clusters),
            "task_type": cfg.project.task_type,
        },
        input_example=example,
        output_example=predictor.assign(example)[0],
        data_files={name: root / cfg.paths.processed / f"{name}.parquet" for name in ("train", "val", "test")},
        local_dir=root / cfg.paths.model,
        run_name=cfg.model.name,
    )
    tracking.write_json(run_info, root / cfg.paths.run_info)
    say("train", f"run {run_info['run_id'][:8]}: val_silhouette={metrics['val_silhouette']:.4f}")
    return run_info


def main() -> None:
    train(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
