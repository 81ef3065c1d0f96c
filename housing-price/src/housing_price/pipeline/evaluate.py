"""Stage evaluate: test-split metrics, interval coverage and plots, logged to the run and to DVC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from mlcore import tracking
from mlcore.config import load_params
from mlcore.evaluation import regression_metrics, regression_plot_data, write_plots
from mlcore.progress import say, step
from omegaconf import DictConfig
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from tqdm import tqdm

from .. import PROJECT_ROOT
from ..model import build_model
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


def cross_validate(cfg: DictConfig, frame: pd.DataFrame) -> dict[str, float]:
    """K-fold CV of the configured model on frame (train + validation): mean and std."""
    folds = KFold(n_splits=cfg.train.cv_folds, shuffle=True, random_state=cfg.train.split.seed)
    x, y = frame.drop(columns=[cfg.data.target]), frame[cfg.data.target].to_numpy(dtype=float)
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
    x, y = test.drop(columns=[cfg.data.target]), test[cfg.data.target].to_numpy(dtype=float)
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


def evaluate(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, float]:
    tracking.configure(root, cfg.project.experiment)
    processed = root / cfg.paths.processed
    test = pd.read_parquet(processed / "test.parquet")
    predictor = load_predictor(root / cfg.paths.model)
    metrics, y, pred = _score(predictor, test, cfg)
    with step("evaluate", f"{cfg.train.cv_folds}-fold cross-validation on train + validation"):
        seen = pd.concat([pd.read_parquet(processed / f"{n}.parquet") for n in ("train", "val")], ignore_index=True)
        metrics.update(cross_validate(cfg, seen))
    with step("evaluate", "permutation importance on the test split"):
        tables = {**regression_plot_data(y, pred), "permutation_importance": importance(predictor, test, cfg)}
    written = write_plots(tables, root / cfg.paths.plots)
    tracking.record_evaluation(root / cfg.paths.run_info, metrics, root / cfg.paths.reports / "metrics.json", written)
    say(
        "evaluate",
        "  ".join(
            f"{k}={metrics[k]:.4f}"
            for k in ("test_r2", "test_rmse", "test_mae", "test_interval_coverage", "cv_r2_mean", "cv_r2_std")
        ),
    )
    return metrics


def main() -> None:
    evaluate(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
