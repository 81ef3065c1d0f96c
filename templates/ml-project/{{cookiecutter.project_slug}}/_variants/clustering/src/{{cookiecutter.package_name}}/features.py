"""Preprocessing for clustering: optional log1p, then robust scaling. Project-owned."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, RobustScaler


def build_preprocessor(cfg: DictConfig) -> ColumnTransformer:
    logged = [name for name in cfg.features.numeric if name in set(cfg.features.get("log", []))]
    plain = [name for name in cfg.features.numeric if name not in set(logged)]
    parts = [("plain", RobustScaler(), plain)]
    if logged:
        parts.append(("logged", Pipeline([("log", FunctionTransformer(np.log1p)), ("scale", RobustScaler())]), logged))
    return ColumnTransformer(parts)
