"""Stage split: deduplicate, split train/val/test with a fixed seed, prove there is no leakage.

Template-owned: edit templates/ml-project, then `make sync`. The stage is
``mlcore.data.stages.split`` (each split written whole or not at all).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlcore.data import stages
from mlcore.foundation.config import load_params
from omegaconf import DictConfig

from .. import PROJECT_ROOT


def split_dataset(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, pd.DataFrame]:
    return stages.split(cfg, root)


run = split_dataset  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    split_dataset(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
