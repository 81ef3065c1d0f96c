"""Stage evaluate: test-split metrics and plots (and the task's further checks), logged to the
training run and to DVC.

Template-owned: edit templates/ml-project, then `make sync`. The stage is
``mlcore.tasks.stages.evaluate`` over this project's task.
"""

from __future__ import annotations

from pathlib import Path

from mlcore.foundation.config import load_params
from mlcore.tasks import stages
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..task import TASK


def evaluate(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, float]:
    return stages.evaluate(TASK, cfg, root)


run = evaluate  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    evaluate(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
