"""Parse the raw data into canonical rows (checked by stage validate). Project-owned.

The sample has one row per eruption; ``features.build_table`` turns rows into the table of
entities the model clusters (for transactions: one row per customer).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig


def parse_raw(path: Path, cfg: DictConfig) -> pd.DataFrame:
    if cfg.format != "csv":
        raise ValueError(f"data.format={cfg.format!r} is not supported; use csv")
    frame = pd.read_csv(path)
    columns = list(dict.fromkeys([*cfg.features.numeric, *cfg.features.profile]))
    missing = sorted(set(columns) - set(frame.columns))
    if missing:
        raise ValueError(f"{path.name} lacks column(s) {missing}; fix data.features")
    return frame[columns].astype(float).reset_index(drop=True)
