"""Stage promote: register the candidate; move @champion only past the gates and the champion.

Template-owned: edit templates/ml-project, then `make sync`. The stage is
``mlcore.tasks.stages.promote`` over this project's task (it re-scores the champion).
"""

from __future__ import annotations

from pathlib import Path

from mlcore.foundation.config import load_params
from mlcore.lifecycle.promotion import Decision
from mlcore.tasks import stages
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..task import TASK


def promote(cfg: DictConfig, root: Path = PROJECT_ROOT) -> Decision:
    return stages.promote(TASK, cfg, root)


run = promote  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    promote(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
