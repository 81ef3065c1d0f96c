"""Stage train: choose k, fit the clustering pipeline on the train split, log to MLflow.

``train(cfg)`` is a plain function (tests call it); ``main()`` is the DVC stage entry that reads
params.yaml. With ``model.n_clusters: null`` every k in ``train.k_selection`` is fitted on the
train split and scored on the validation split (one MLflow child run per k, the curve in
reports/plots/k_selection.csv); the chosen k's model is logged with its signature, input example,
pip requirements, the reference profile for drift checks and the segment profiles
(extra_files/segments.json), and copied to models/model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlcore import tracking
from mlcore.config import load_params, to_dict
from mlcore.drift import build_profile
from mlcore.evaluation import clustering_metrics, write_plots
from mlcore.progress import say, step
from mlcore.segments import as_records, choose_k, overall_stats, profile
from omegaconf import DictConfig
from tqdm import tqdm

from .. import PROJECT_ROOT
from ..features import name_segments
from ..model import fit_model
from ..schemas import Predictor, request_items


def load_split(cfg: DictConfig, name: str, root: Path = PROJECT_ROOT) -> pd.DataFrame:
    return pd.read_parquet(root / cfg.paths.processed / f"{name}.parquet")


def score_k(cfg: DictConfig, train_df: pd.DataFrame, val_df: pd.DataFrame, k: int, seed: int) -> tuple[Predictor, dict]:
    """Fit k clusters on train; validation metrics ``val_*`` and the smallest cluster's share."""
    features = list(cfg.data.features.numeric)
    pipeline = fit_model(cfg.model, cfg.data, train_df[features], n_clusters=k, seed=seed)
    predictor = Predictor(pipeline, features, to_dict(cfg.data.table))
    labels, _ = predictor.assign(val_df)
    points = predictor.preprocess.transform(val_df[features])
    metrics = clustering_metrics(points, labels)
    metrics["min_cluster_share"] = float(
        pd.Series(labels).value_counts(normalize=True).reindex(range(k)).fillna(0).min()
    )
    return predictor, {f"val_{k_}" if k_ != "min_cluster_share" else k_: v for k_, v in metrics.items()}


def fit(cfg: DictConfig, root: Path = PROJECT_ROOT, seed: int | None = None) -> tuple[Predictor, dict, pd.DataFrame]:
    """Fit the pipeline (sweeping k when model.n_clusters is null); return the predictor, its
    validation metrics and the k curve (one row per k tried)."""
    train_df, val_df = load_split(cfg, "train", root), load_split(cfg, "val", root)
    seed = cfg.train.split.seed if seed is None else seed
    fixed = cfg.model.n_clusters
    ks = (
        [int(fixed)] if fixed is not None else list(range(cfg.train.k_selection.k_min, cfg.train.k_selection.k_max + 1))
    )
    results: dict[int, tuple[Predictor, dict]] = {}
    with step("train", f"fit {cfg.model.name} for k in {ks} on {len(train_df)} rows"):
        # A bar on a terminal only (disable=None); logs get the stage lines.
        for k in tqdm(ks, desc="k", disable=True if len(ks) == 1 else None, leave=False):
            results[k] = score_k(cfg, train_df, val_df, k, seed)
    curve = pd.DataFrame(
        [
            {
                "k": k,
                "silhouette": m["val_silhouette"],
                "davies_bouldin": m["val_davies_bouldin"],
                "calinski_harabasz": m["val_calinski_harabasz"],
                "min_share": m["min_cluster_share"],
            }
            for k, (_, m) in results.items()
        ]
    )
    rules = cfg.train.k_selection
    chosen = int(fixed) if fixed is not None else choose_k(curve, rules.choose_min, rules.min_share)
    predictor, metrics = results[chosen]
    return predictor, {**metrics, "k": float(chosen)}, curve


def trial(cfg: DictConfig) -> float:
    """One sweep trial (inside an MLflow run): fit, score on validation, log, return the metric."""
    if cfg.model.n_clusters is None:
        raise SystemExit("a sweep trial needs model.n_clusters set by the sweeper (see configs/hparams_search/)")
    _, metrics, _ = fit(cfg)
    return tracking.log_trial(to_dict(cfg.model), metrics, cfg.optimized_metric)


def segment_profiles(predictor: Predictor, table: pd.DataFrame, cfg: DictConfig) -> dict[str, Any]:
    """Profiles and names of the segments on ``table``; shipped with the model for GET /segments."""
    columns = list(cfg.data.features.profile)
    labels, _ = predictor.assign(table)
    prof = profile(table, labels, columns, cfg.data.features.get("value"))
    overall = overall_stats(table, columns)
    names = name_segments(prof, overall, cfg.data)
    return {"columns": columns, "overall": overall, "segments": as_records(prof, names)}


def train(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    tracking.configure(root, cfg.project.experiment)
    predictor, metrics, curve = fit(cfg, root)
    write_plots({"k_selection": curve}, root / cfg.paths.plots)
    k = int(metrics["k"])
    # Rows the model has seen: the reference for drift checks and for the segment profiles.
    reference = pd.concat([load_split(cfg, "train", root), load_split(cfg, "val", root)], ignore_index=True)
    with step("train", f"segment profiles and reference profile for drift ({len(reference)} rows)"):
        segments = segment_profiles(predictor, reference, cfg)
        predictor.segments = segments["segments"]
        profile_ = build_profile(predictor.drift_frame(request_items(reference)), categorical=["segment"])
    example = pd.DataFrame(request_items(reference.head(3)))  # the request contract, as /predict takes it
    run_info = tracking.log_training_run(
        root=root,
        config=to_dict(cfg),
        predictor=predictor,
        package="customer_segmentation",
        metrics=metrics,
        profile=profile_,
        metadata={
            "features": predictor.features,
            "table": to_dict(cfg.data.table),
            "n_clusters": k,
            "task_type": cfg.project.task_type,
        },
        input_example=example,
        data_files={name: root / cfg.paths.processed / f"{name}.parquet" for name in ("train", "val", "test")},
        local_dir=root / cfg.paths.model,
        run_name=cfg.model.name,
        extra_json={"segments.json": segments},
        child_runs=[
            {"run_name": f"k={int(row['k'])}", "params": {"n_clusters": int(row["k"])}, "metrics": row}
            for row in curve.to_dict(orient="records")
        ]
        if len(curve) > 1
        else [],
    )
    tracking.write_json(run_info, root / cfg.paths.run_info)
    say(
        "train",
        f"run {run_info['run_id'][:8]}: k={k} ({', '.join(predictor.names.values())}), val_silhouette={metrics['val_silhouette']:.4f}",
    )
    return run_info


def main() -> None:
    train(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
