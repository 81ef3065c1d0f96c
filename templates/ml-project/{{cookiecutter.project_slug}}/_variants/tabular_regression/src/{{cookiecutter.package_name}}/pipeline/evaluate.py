"""Stage evaluate: test-split metrics, interval coverage and plots, logged to the run and to DVC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from mlcore import tracking
from mlcore.config import load_params
from mlcore.evaluation import regression_metrics, regression_plot_data, write_plots
from mlcore.progress import say
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..schemas import Predictor, load_predictor


def _score(
    predictor: Predictor, test: pd.DataFrame, cfg: DictConfig
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    y = test[cfg.data.target].to_numpy(dtype=float)
    pred = predictor.values(test.drop(columns=[cfg.data.target]))
    metrics = {f"test_{k}": v for k, v in regression_metrics(y, pred).items()}
    low, high = pred * np.exp(-predictor.halfwidth), pred * np.exp(predictor.halfwidth)
    metrics["test_interval_coverage"] = float(np.mean((y >= low) & (y <= high)))
    return metrics, y, pred


def score(model_dir: Path, test: pd.DataFrame, cfg: DictConfig) -> dict[str, float]:
    """Test metrics (``test_*``) of the model in ``model_dir``."""
    return _score(load_predictor(model_dir), test, cfg)[0]


def evaluate(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, float]:
    tracking.configure(root, cfg.project.experiment)
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet")
    metrics, y, pred = _score(load_predictor(root / cfg.paths.model), test, cfg)
    written = write_plots(regression_plot_data(y, pred), root / cfg.paths.plots)
    tracking.record_evaluation(root / cfg.paths.run_info, metrics, root / cfg.paths.reports / "metrics.json", written)
    say(
        "evaluate",
        "  ".join(f"{k}={metrics[k]:.4f}" for k in ("test_r2", "test_rmse", "test_mae", "test_interval_coverage")),
    )
    return metrics


def main() -> None:
    evaluate(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
