"""Stage evaluate: test-split metrics and plots (and the task's further checks), logged to the
training run and to DVC. The stage is ``mlcore.tasks.stages.evaluate`` over this project's task."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlcore.foundation.config import load_params
from mlcore.tasks import stages
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..task import TASK


def score(model_dir: Path, test: pd.DataFrame, cfg: DictConfig) -> dict[str, float]:
    """Test metrics (``test_*``) of the model in ``model_dir`` (promotion re-scores the champion)."""
    return stages.score(TASK, model_dir, test, cfg)


def evaluate(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, float]:
    return stages.evaluate(TASK, cfg, root)


run = evaluate  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    evaluate(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
