"""Stage baselines: TF-IDF + logistic regression, trained on the same splits and scored on the same
test split; the transformer must beat it by the margin promotion requires
(``mlcore.tasks.stages.baselines``).

Template-owned: edit templates/ml-project, then `make sync`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlcore.foundation.config import load_params
from mlcore.tasks import stages
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..task import TASK


def compare(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    return stages.baselines(TASK, cfg, root)


run = compare  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    compare(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
