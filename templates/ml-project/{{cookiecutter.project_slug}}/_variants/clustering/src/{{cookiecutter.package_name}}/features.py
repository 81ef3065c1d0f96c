"""Rows -> one row per entity, preprocessing, and segment names. Project-owned.

- ``build_table``: the table the model clusters (pure; stage ``features``). The sample is already
  one row per eruption; a transactions dataset would aggregate per customer here.
- ``build_preprocessor``: optional log1p, then robust scaling.
- ``name_segments``: human names for the segments, from their profiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd
from mlcore.tasks.clustering import robust_preprocessor
from mlcore.tasks.segments import describe_names
from omegaconf import DictConfig

if TYPE_CHECKING:  # scikit-learn is imported where a pipeline is built, never by a serving worker
    from sklearn.compose import ColumnTransformer


def build_table(rows: pd.DataFrame, cfg: DictConfig) -> pd.DataFrame:
    columns = list(dict.fromkeys([*cfg.features.numeric, *cfg.features.profile]))
    return rows[columns].reset_index(drop=True)


def build_preprocessor(cfg: DictConfig) -> ColumnTransformer:
    return robust_preprocessor(cfg.features.numeric, cfg.features.get("log", []))


def name_segments(profile: pd.DataFrame, overall: Mapping[str, float], cfg: DictConfig) -> dict[int, str]:
    """Each segment after the profile column where it differs most from everyone ("high waiting")."""
    return describe_names(profile, list(cfg.features.profile), overall)
