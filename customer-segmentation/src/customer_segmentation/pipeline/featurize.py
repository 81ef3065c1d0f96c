"""Stage features: turn the validated rows into the table of entities the model clusters.

Template-owned: edit templates/ml-project, then `make sync`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlcore.foundation.config import load_params
from mlcore.foundation.io import write_parquet
from mlcore.foundation.progress import say, step
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..features import build_table


def featurize(cfg: DictConfig, root: Path = PROJECT_ROOT) -> pd.DataFrame:
    rows = pd.read_parquet(root / cfg.paths.interim)
    with step("features", f"build the table from {len(rows)} rows"):
        table = build_table(rows, cfg.data)
    write_parquet(table, root / cfg.paths.table)
    say("features", f"{len(table)} rows x {table.shape[1]} columns -> {cfg.paths.table}")
    return table


run = featurize  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    featurize(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
