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
from tqdm import tqdm

from .. import PROJECT_ROOT
from ..model import fit_model
from ..schemas import Predictor, load_predictor


def score(model_dir: Path, test: pd.DataFrame, cfg: DictConfig) -> dict[str, float]:
    """Test metrics (``test_*``, and the smallest segment's share) of the model in ``model_dir``."""
    predictor = load_predictor(model_dir)
    labels, _ = predictor.assign(test)
    points = predictor.preprocess.transform(test[predictor.features])
    metrics = clustering_metrics(points, labels)
    metrics["min_cluster_share"] = float(
        pd.Series(labels).value_counts(normalize=True).reindex(range(len(predictor.centres))).fillna(0).min()
    )
    return {f"test_{k}" if k != "min_cluster_share" else k: v for k, v in metrics.items()}


def stability(predictor: Predictor, train: pd.DataFrame, test: pd.DataFrame, cfg: DictConfig) -> float:
    """Mean adjusted Rand index between the model's test assignments and refits with other seeds
    on bootstrap resamples of the train split (1.0: the same segments every time)."""
    reference, _ = predictor.assign(test)
    rng = np.random.default_rng(cfg.train.split.seed)
    k = len(predictor.centres)
    scores = []
    for seed in tqdm(range(1, cfg.train.stability.seeds + 1), desc="stability", disable=None, leave=False):
        sample = train.iloc[rng.integers(0, len(train), len(train))][predictor.features]
        refit = Predictor(fit_model(cfg.model, cfg.data, sample, n_clusters=k, seed=seed), predictor.features)
        scores.append(adjusted_rand_score(reference, refit.assign(test)[0]))
    return float(np.mean(scores))


def evaluate(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, float]:
    tracking.configure(root, cfg.project.experiment)
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet")
    train = pd.read_parquet(root / cfg.paths.processed / "train.parquet")
    predictor = load_predictor(root / cfg.paths.model)
    metrics = score(root / cfg.paths.model, test, cfg)
    with step("evaluate", f"stability over {cfg.train.stability.seeds} seeds and bootstrap resamples"):
        metrics["stability_ari"] = stability(predictor, train, test, cfg)
    labels, _ = predictor.assign(test)
    points = predictor.preprocess.transform(test[predictor.features])
    projected = PCA(n_components=2).fit_transform(points) if points.shape[1] > 2 else np.asarray(points)
    shares = pd.Series(labels).value_counts(normalize=True).sort_index()
    names = predictor.names
    tables = {
        "projection": pd.DataFrame(
            {
                "component_1": projected[:, 0],
                "component_2": projected[:, 1],
                "cluster": [names.get(int(s), str(s)) for s in labels],
            }
        ),
        "cluster_sizes": pd.DataFrame(
            {"cluster": [names.get(int(s), str(s)) for s in shares.index], "share": shares.to_numpy()}
        ),
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
