"""Parse the raw data into the canonical table: one row per entity, numeric features. Project-owned."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig


def parse_raw(path: Path, cfg: DictConfig) -> pd.DataFrame:
    if cfg.format != "csv":
        raise ValueError(f"data.format={cfg.format!r} is not supported; use csv")
    frame = pd.read_csv(path)
    missing = sorted(set(cfg.features.numeric) - set(frame.columns))
    if missing:
        raise ValueError(f"{path.name} lacks column(s) {missing}; fix data.features.numeric")
    return frame[list(cfg.features.numeric)].astype(float).reset_index(drop=True)
