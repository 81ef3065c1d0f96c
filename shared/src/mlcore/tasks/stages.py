"""The train and evaluate stages, the sweep trial and promotion's re-scoring, once for every task.

Each is a thin shell: it reads the splits, calls the project's ``Task`` and does the I/O
(MLflow, DVC outputs, plots). A project's ``pipeline/train.py`` and ``pipeline/evaluate.py``
only bind these to its task and its root.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from mlcore.foundation.config import to_dict
from mlcore.foundation.io import read_json, write_json
from mlcore.foundation.progress import say, step
from mlcore.lifecycle import runs, tracking
from mlcore.tasks.base import Scored, Task

SPLITS = ("train", "val", "test")


def split_path(cfg: DictConfig, root: Path, name: str) -> Path:
    return Path(root) / cfg.paths.processed / f"{name}.parquet"


def read_splits(cfg: DictConfig, root: Path, names: tuple[str, ...] = SPLITS) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(split_path(cfg, root, name)) for name in names}


def with_extra_rows(train: pd.DataFrame, cfg: DictConfig, root: Path) -> pd.DataFrame:
    """The train split plus the rows of ``rollout.extra_data`` (parquet files with the split's
    columns: labelled feedback that ``retrain-on-drift`` wrote); validation and test stay as they
    are, so the candidate is compared with the champion on the same data."""
    extra = list((cfg.get("rollout") or {}).get("extra_data") or [])
    if not extra:
        return train
    frames = [pd.read_parquet(Path(root) / path) for path in extra]
    for path, frame in zip(extra, frames, strict=True):
        missing = set(train.columns) - set(frame.columns)
        if missing:
            raise ValueError(f"rollout.extra_data {path} lacks the train split's columns {sorted(missing)}")
    added = pd.concat([frame[train.columns] for frame in frames], ignore_index=True)
    say("train", f"train split {len(train)} rows + {len(added)} from rollout.extra_data")
    return pd.concat([train, added], ignore_index=True)


def train(task: Task, cfg: DictConfig, root: Path) -> dict[str, Any]:
    """Fit, profile the reference, log the run and the model, copy it to ``paths.model``."""
    from mlcore.monitoring.drift import build_profile
    from mlcore.tasks.metrics import write_plots

    tracking.configure(root, cfg.project.experiment)
    splits = read_splits(cfg, root, ("train", "val"))
    splits["train"] = with_extra_rows(splits["train"], cfg, root)
    if cfg.get("trainer") and cfg.trainer.get("checkpoint_dir"):  # relative to the project, like every path
        cfg.trainer.checkpoint_dir = str(Path(root) / cfg.trainer.checkpoint_dir)
    fitted = task.fit(cfg, splits["train"], splits["val"])
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 logs and writes
        return {}
    if fitted.tables:
        write_plots(fitted.tables, Path(root) / cfg.paths.plots)
    with step("train", "reference profile for drift"):
        ref = task.reference(fitted, cfg, splits["train"], splits["val"])
        profile = build_profile(ref.frame, categorical=ref.categorical, seed=ref.seed)
    input_example = task.input_example(cfg, splits["train"], splits["val"])
    with tempfile.TemporaryDirectory() as tmp:
        run_info = tracking.log_training_run(
            root=root,
            config=to_dict(cfg),
            predictor=fitted.predictor,
            native_model=fitted.model,
            package=task.package,
            metrics=fitted.metrics,
            profile=profile,
            metadata={**task.metadata(fitted, cfg), "task_type": cfg.project.task_type},
            input_example=input_example,
            data_files={name: split_path(cfg, root, name) for name in SPLITS},
            local_dir=Path(root) / cfg.paths.model,
            run_name=cfg.model.name,
            extras=ref.extras,
            child_runs=fitted.child_runs,
            history=fitted.history,
            shipped_files=compiled_fast_path(task.package, fitted.predictor, input_example, Path(tmp)),
        )
    write_json(run_info, Path(root) / cfg.paths.run_info)
    say("train", f"run {run_info['run_id'][:8]}: {fitted.summary}")
    return run_info


def compiled_fast_path(package: str, predictor: Any, input_example: pd.DataFrame, folder: Path) -> list[str]:
    """The predictor's compiled fast path written into ``folder`` (shipped with the model), when it
    answers the input example exactly as the native model does through the pyfunc flavor; else []."""
    from mlcore import fastpath
    from mlcore.lifecycle import pyfunc

    served = pyfunc.SuiteModel(pyfunc.schemas_of(package), predictor)
    return fastpath.save_checked(predictor, lambda: served.predict(input_example).to_dict(orient="records"), folder)


def score(task: Task, model_dir: Path, test: pd.DataFrame, cfg: DictConfig) -> dict[str, float]:
    """Test metrics of the model in ``model_dir`` (promotion re-scores the champion with this)."""
    return task.score(task.load(model_dir), test, cfg).metrics


def evaluate(task: Task, cfg: DictConfig, root: Path) -> dict[str, float]:
    """Score the trained model on the test split, assess it further, write metrics and plots,
    and log both to the training run."""
    from mlcore.tasks.metrics import write_plots

    tracking.configure(root, cfg.project.experiment)
    splits = read_splits(cfg, root)
    predictor = task.load(Path(root) / cfg.paths.model)
    result: Scored = task.score(predictor, splits["test"], cfg) | task.assess(predictor, cfg, splits)
    written = write_plots(result.tables, Path(root) / cfg.paths.plots)
    tracking.record_evaluation(
        Path(root) / cfg.paths.run_info, result.metrics, Path(root) / cfg.paths.reports / "metrics.json", written
    )
    say("evaluate", "  ".join(f"{k}={result.metrics[k]:.4f}" for k in task.headline))
    return result.metrics


def trial(task: Task, cfg: DictConfig, root: Path) -> float:
    """One sweep trial (inside an MLflow run): fit, score on validation, log, return the metric."""
    splits = read_splits(cfg, root, ("train", "val"))
    fitted = task.fit(cfg, splits["train"], splits["val"])
    return tracking.log_trial(to_dict(cfg.model), fitted.metrics, cfg.optimized_metric)


def run_info(cfg: DictConfig, root: Path) -> dict[str, Any]:
    return read_json(Path(root) / cfg.paths.run_info)


BASELINES_FILE = "baselines.json"


def baselines(task: Task, cfg: DictConfig, root: Path) -> dict[str, Any]:
    """Train each model of ``cfg.train.baselines`` (name -> model config) on the same splits,
    score it on the test split, log it as an MLflow run tagged with the candidate's run, and write
    ``<reports>/baselines.json``: each baseline's test metrics and ``test_margin_over_baselines``,
    the candidate's primary metric minus the best baseline's (what a promotion gate can require)."""
    import mlflow
    from omegaconf import OmegaConf

    tracking.configure(root, cfg.project.experiment)
    splits = read_splits(cfg, root)
    candidate = read_json(Path(root) / cfg.paths.reports / "metrics.json")
    info = run_info(cfg, root)
    primary = cfg.train.promotion.primary_metric
    sign = 1.0 if cfg.train.promotion.higher_is_better else -1.0
    out: dict[str, Any] = {"candidate": {primary: candidate[primary]}, "baselines": {}}
    for name, model_cfg in (cfg.train.get("baselines") or {}).items():
        variant = cfg.copy()
        OmegaConf.set_struct(variant, False)
        variant.model = model_cfg
        fitted = task.fit(variant, splits["train"], splits["val"])
        scored = task.score(fitted.predictor, splits["test"], variant)
        with runs.owned_run(run_name=f"baseline-{name}"):
            mlflow.set_tags({"baseline_of": info["run_id"], "role": "baseline"})
            mlflow.log_params({k: str(v)[:250] for k, v in tracking.flatten(to_dict(model_cfg)).items()})
            for row in fitted.history:
                mlflow.log_metrics(
                    {f"epoch_{k}": float(v) for k, v in row.items() if k != "epoch"}, step=int(row["epoch"])
                )
            mlflow.log_metrics({**fitted.metrics, **scored.metrics})
        out["baselines"][name] = {k: scored.metrics[k] for k in task.headline if k in scored.metrics}
        say("baselines", f"{name}: " + "  ".join(f"{k}={v:.4f}" for k, v in out["baselines"][name].items()))
    if out["baselines"]:
        best = max(sign * b[primary] for b in out["baselines"].values())
        out["test_margin_over_baselines"] = sign * candidate[primary] - best
        say(
            "baselines",
            f"candidate {primary}={candidate[primary]:.4f}, margin over the best baseline {out['test_margin_over_baselines']:+.4f}",
        )
    write_json(out, Path(root) / cfg.paths.reports / BASELINES_FILE)
    return out


def promotion_metrics(cfg: DictConfig, root: Path) -> dict[str, float]:
    """What promotion judges: the evaluation metrics, plus the margin over the baselines when the
    project trains baselines (``train.baselines``)."""
    metrics = read_json(Path(root) / cfg.paths.reports / "metrics.json")
    if cfg.train.get("baselines"):
        compared = read_json(Path(root) / cfg.paths.reports / BASELINES_FILE)
        if "test_margin_over_baselines" in compared:
            metrics["test_margin_over_baselines"] = compared["test_margin_over_baselines"]
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}
