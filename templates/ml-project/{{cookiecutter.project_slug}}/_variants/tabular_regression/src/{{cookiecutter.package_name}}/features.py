"""Feature engineering (pure) and the preprocessing ``ColumnTransformer``. Project-owned."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from omegaconf import DictConfig

if TYPE_CHECKING:  # scikit-learn is imported where a pipeline is built, never by a serving worker
    from sklearn.compose import ColumnTransformer

ENGINEERED = ["volume"]


def engineer(frame: pd.DataFrame) -> pd.DataFrame:
    """Add engineered columns (here: the stone's bounding volume in mm^3)."""
    out = frame.copy()
    out["volume"] = out["x"] * out["y"] * out["z"]
    return out


def build_preprocessor(cfg: DictConfig) -> ColumnTransformer:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [*cfg.features.numeric, *ENGINEERED]
    return ColumnTransformer(
        [
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                list(cfg.features.categorical),
            ),
        ]
    )
