"""`make sweep`: Hydra multirun with the Optuna sweeper; every trial an MLflow child run.

Run after `dvc repro split`. Trials train on the train split and score on the validation split;
they register nothing and write no DVC outputs. The best parameters are logged to the parent run
and written to reports/sweep_best.yaml.
"""

from __future__ import annotations

import os

import mlflow
from mlcore.foundation.config import hydra_entry, to_dict
from mlcore.foundation.io import write_text
from mlcore.lifecycle import tracking
from mlcore.lifecycle.runs import owned_run
from omegaconf import DictConfig

from .. import CONFIG_DIR, PROJECT_ROOT
from .train import trial

PARENT_ENV = "ML_SWEEP_PARENT_RUN_ID"


def sweep_trial(cfg: DictConfig) -> float:
    tracking.configure(PROJECT_ROOT, cfg.project.experiment)
    parent = os.environ.get(PARENT_ENV)
    if parent is None:
        with owned_run(run_name=f"sweep-{cfg.project.name}") as run:
            mlflow.set_tag("sweep", "optuna")
        parent = os.environ[PARENT_ENV] = run.info.run_id
    with owned_run(run_id=parent), owned_run(nested=True, run_name="trial") as child:
        value = trial(cfg)
        mlflow.set_tag("mlflow.parentRunId", parent)
    best = _record_best(parent, cfg, value, child.info.run_id)
    print(f"[sweep] trial {child.info.run_id[:8]}: {cfg.optimized_metric}={value:.4f} (best {best:.4f})", flush=True)
    return value


def _record_best(parent: str, cfg: DictConfig, value: float, run_id: str) -> float:
    client = mlflow.MlflowClient()
    best = client.get_run(parent).data.metrics.get(f"best_{cfg.optimized_metric}")
    maximize = cfg.get("optimized_direction", "maximize") == "maximize"
    if best is None or (value > best if maximize else value < best):
        client.log_metric(parent, f"best_{cfg.optimized_metric}", value)
        client.set_tag(parent, "best_trial_run_id", run_id)
        import yaml

        out = PROJECT_ROOT / cfg.paths.reports / "sweep_best.yaml"
        best_cfg = {
            "optimized_metric": cfg.optimized_metric,
            "value": value,
            "trial_run_id": run_id,
            "model": to_dict(cfg.model),
        }
        write_text(out, yaml.safe_dump(best_cfg, sort_keys=False))
        client.log_artifact(parent, str(out))
        return value
    return best


main = hydra_entry(CONFIG_DIR)(sweep_trial)

if __name__ == "__main__":
    main()
