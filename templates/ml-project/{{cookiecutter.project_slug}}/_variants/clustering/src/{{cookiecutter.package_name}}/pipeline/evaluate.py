"""Stage evaluate: test-split cluster quality, stability across seeds and resamples, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from mlcore import tracking
from mlcore.config import load_params
from mlcore.evaluation import clustering_metrics, write_plots
from mlcore.progress import say, step
from omegaconf import DictConfig
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from .. import PROJECT_ROOT
from ..model import build_model
from ..schemas import Predictor, load_predictor


def score(model_dir: Path, test: pd.DataFrame, cfg: DictConfig) -> dict[str, float]:
    """Test metrics (``test_*``) of the model in ``model_dir``."""
    predictor = load_predictor(model_dir)
    labels, _ = predictor.assign(test[predictor.features])
    points = predictor.preprocess.transform(test[predictor.features])
    return {f"test_{k}" if k != "min_cluster_share" else k: v for k, v in clustering_metrics(points, labels).items()}


def stability(predictor: Predictor, train: pd.DataFrame, test: pd.DataFrame, cfg: DictConfig) -> float:
    """Mean adjusted Rand index between the model's test assignments and refits on bootstrap
    resamples of the train split with other seeds."""
    reference, _ = predictor.assign(test)
    rng = np.random.default_rng(cfg.train.split.seed)
    scores = []
    for seed in range(1, cfg.train.stability.seeds + 1):
        sample = train.iloc[rng.integers(0, len(train), len(train))]
        refit = build_model(cfg.model, cfg.data, seed=seed).fit(sample)
        scores.append(adjusted_rand_score(reference, refit.predict(test)))
    return float(np.mean(scores))


def evaluate(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, float]:
    tracking.configure(root, cfg.project.experiment)
    features = list(cfg.data.features.numeric)
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet")[features]
    train = pd.read_parquet(root / cfg.paths.processed / "train.parquet")[features]
    predictor = load_predictor(root / cfg.paths.model)
    metrics = score(root / cfg.paths.model, test, cfg)
    with step("evaluate", f"stability over {cfg.train.stability.seeds} seeds and bootstrap resamples"):
        metrics["stability_ari"] = stability(predictor, train, test, cfg)
    labels, _ = predictor.assign(test)
    points = predictor.preprocess.transform(test)
    projected = PCA(n_components=2).fit_transform(points) if points.shape[1] > 2 else np.asarray(points)
    shares = pd.Series(labels).value_counts(normalize=True).sort_index()
    tables = {
        "projection": pd.DataFrame(
            {"component_1": projected[:, 0], "component_2": projected[:, 1], "cluster": labels.astype(str)}
        ),
        "cluster_sizes": pd.DataFrame({"cluster": shares.index.astype(str), "share": shares.to_numpy()}),
    }
    written = write_plots(tables, root / cfg.paths.plots)
    tracking.record_evaluation(root / cfg.paths.run_info, metrics, root / cfg.paths.reports / "metrics.json", written)
    say(
        "evaluate",
        "  ".join(
            f"{k}={metrics[k]:.4f}"
            for k in ("test_silhouette", "test_davies_bouldin", "stability_ari", "min_cluster_share")
        ),
    )
    return metrics


def main() -> None:
    evaluate(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
