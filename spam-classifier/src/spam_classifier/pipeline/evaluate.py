"""Stage evaluate: test-split metrics and plots, logged to the training run and to DVC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from mlcore import tracking
from mlcore.config import load_params
from mlcore.evaluation import classification_metrics, classification_plot_data, write_plots
from mlcore.progress import say
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..schemas import Predictor, load_predictor


def score(model_dir: Path, test: pd.DataFrame, cfg: DictConfig) -> dict[str, float]:
    """Test metrics (``test_*``) of the model in ``model_dir`` at its own threshold."""
    return _score(load_predictor(model_dir), test, cfg)[0]


def _score(
    predictor: Predictor, test: pd.DataFrame, cfg: DictConfig
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    y = (test["label"] == cfg.data.labels[1]).to_numpy(dtype=int)
    scores = predictor.probabilities(test["text"].tolist())
    metrics = {f"test_{k}": v for k, v in classification_metrics(y, scores, predictor.threshold).items()}
    return metrics, y, scores


def evaluate(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, float]:
    tracking.configure(root, cfg.project.experiment)
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet")
    predictor = load_predictor(root / cfg.paths.model)
    metrics, y, scores = _score(predictor, test, cfg)
    tables = classification_plot_data(y, scores, predictor.threshold, tuple(cfg.data.labels))
    written = write_plots(tables, root / cfg.paths.plots)
    tracking.record_evaluation(root / cfg.paths.run_info, metrics, root / cfg.paths.reports / "metrics.json", written)
    say(
        "evaluate",
        "  ".join(f"{k}={metrics[k]:.4f}" for k in ("test_precision", "test_recall", "test_f1", "test_roc_auc")),
    )
    return metrics


def main() -> None:
    evaluate(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
