"""Parse the raw data into the canonical table: feature columns plus the target. Project-owned."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig


def parse_raw(path: Path, cfg: DictConfig) -> pd.DataFrame:
    if cfg.format != "csv":
        raise ValueError(f"data.format={cfg.format!r} is not supported; use csv")
    frame = pd.read_csv(path)
    columns = [*cfg.features.numeric, *cfg.features.categorical, cfg.target]
    missing = sorted(set(columns) - set(frame.columns))
    if missing:
        raise ValueError(f"{path.name} lacks column(s) {missing}; fix data.features / data.target")
    frame = frame[columns].copy()
    for name in cfg.features.categorical:
        frame[name] = frame[name].astype(str).str.strip()
    frame[cfg.target] = frame[cfg.target].astype(float)
    return frame.reset_index(drop=True)
