"""Stage train: fit on the train split, tune on validation, log the run and the model to MLflow.

Template-owned: edit templates/ml-project, then `make sync`. The stage itself is
``mlcore.tasks.stages.train``; what this project fits and how is its task (``task.py``).
``train(cfg)`` is a plain function (tests call it); ``main()`` is the DVC stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlcore.foundation.config import load_params
from mlcore.tasks import stages
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..task import TASK


def train(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    return stages.train(TASK, cfg, root)


run = train  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    train(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
