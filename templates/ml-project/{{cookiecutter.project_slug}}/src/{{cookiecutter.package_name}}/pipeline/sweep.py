"""`make sweep`: Hydra multirun with the Optuna sweeper; every trial an MLflow child run.

Template-owned: edit templates/ml-project, then `make sync`. Run after `dvc repro split`. Trials
train on the train split and score on the validation split; they register nothing and write no
DVC outputs. The best parameters are logged to the parent run and written to
reports/sweep_best.yaml (``mlcore.tasks.stages.sweep_trial``).
"""

from __future__ import annotations

from mlcore.foundation.config import hydra_entry
from mlcore.tasks import stages
from omegaconf import DictConfig

from .. import CONFIG_DIR, PROJECT_ROOT
from ..task import TASK


def sweep_trial(cfg: DictConfig) -> float:
    return stages.sweep_trial(TASK, cfg, PROJECT_ROOT)


main = hydra_entry(CONFIG_DIR)(sweep_trial)

if __name__ == "__main__":
    main()
