"""Rows -> one row per entity, preprocessing, and segment names. Project-owned.

- ``build_table``: the table the model clusters (pure; stage ``features``). The sample is already
  one row per eruption; a transactions dataset would aggregate per customer here.
- ``build_preprocessor``: optional log1p, then robust scaling.
- ``name_segments``: human names for the segments, from their profiles.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from mlcore.segments import describe_names
from omegaconf import DictConfig
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, RobustScaler


def build_table(rows: pd.DataFrame, cfg: DictConfig) -> pd.DataFrame:
    columns = list(dict.fromkeys([*cfg.features.numeric, *cfg.features.profile]))
    return rows[columns].reset_index(drop=True)


def build_preprocessor(cfg: DictConfig) -> ColumnTransformer:
    logged = [name for name in cfg.features.numeric if name in set(cfg.features.get("log", []))]
    plain = [name for name in cfg.features.numeric if name not in set(logged)]
    parts = [("plain", RobustScaler(), plain)]
    if logged:
        parts.append(("logged", Pipeline([("log", FunctionTransformer(np.log1p)), ("scale", RobustScaler())]), logged))
    return ColumnTransformer(parts)


def name_segments(profile: pd.DataFrame, overall: Mapping[str, float], cfg: DictConfig) -> dict[int, str]:
    """Each segment after the profile column where it differs most from everyone ("high waiting")."""
    return describe_names(profile, list(cfg.features.profile), overall)
