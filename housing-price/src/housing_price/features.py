"""Engineered features (pure) and the preprocessing ``ColumnTransformer``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd
from omegaconf import DictConfig

if TYPE_CHECKING:  # scikit-learn is imported where a pipeline is built, never by a serving worker
    from sklearn.compose import ColumnTransformer

ENGINEERED = ["Total_Living_Area", "House_Age", "Years_Since_Remodel", "Total_Bathrooms"]


def engineer_row(row: dict[str, Any]) -> dict[str, Any]:
    """Total living area, house age and years since remodel at sale, total bathrooms, for one house.

    Features a dataset lacks (California) give no engineered feature; missing inputs give a missing
    result (imputed downstream), except a missing basement area or bath count, which counts as 0.
    """
    out = dict(row)

    def num(key: str, default: float = math.nan) -> float:
        value = out.get(key)
        return default if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    def at_least_zero(value: float) -> float:
        return value if math.isnan(value) else max(value, 0.0)

    if {"Gr_Liv_Area", "Total_Bsmt_SF"} <= out.keys():
        out["Total_Living_Area"] = num("Gr_Liv_Area") + num("Total_Bsmt_SF", 0.0)
    if {"Year_Sold", "Year_Built", "Year_Remod_Add"} <= out.keys():
        out["House_Age"] = at_least_zero(num("Year_Sold") - num("Year_Built"))
        out["Years_Since_Remodel"] = at_least_zero(num("Year_Sold") - num("Year_Remod_Add"))
    if {"Full_Bath", "Half_Bath", "Bsmt_Full_Bath", "Bsmt_Half_Bath"} <= out.keys():
        out["Total_Bathrooms"] = (
            num("Full_Bath", 0.0)
            + 0.5 * num("Half_Bath", 0.0)
            + num("Bsmt_Full_Bath", 0.0)
            + 0.5 * num("Bsmt_Half_Bath", 0.0)
        )
    return out


def engineer(frame: pd.DataFrame) -> pd.DataFrame:
    """``engineer_row`` over a table (the pipeline's first step; serving calls ``engineer_row``)."""
    rows = [engineer_row(row) for row in frame.to_dict(orient="records")]
    added = [name for name in ENGINEERED if rows and name in rows[0]]
    out = pd.DataFrame(rows, index=frame.index, columns=[*frame.columns, *added])
    out[added] = out[added].astype(float)
    return out


def engineered_columns(cfg: DictConfig) -> list[str]:
    sample = pd.DataFrame(columns=[*cfg.features.numeric, *cfg.features.categorical], dtype=float)
    return [name for name in ENGINEERED if name in engineer(sample).columns]


def build_preprocessor(cfg: DictConfig) -> ColumnTransformer:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [*cfg.features.numeric, *engineered_columns(cfg)]
    parts = [
        ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric)
    ]
    if cfg.features.categorical:
        encode = Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10, sparse_output=False)),
        ])  # fmt: skip
        parts.append(("categorical", encode, list(cfg.features.categorical)))
    return ColumnTransformer(parts, verbose_feature_names_out=False)
