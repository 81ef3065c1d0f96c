"""Engineered features (pure) and the preprocessing ``ColumnTransformer``."""

from __future__ import annotations

import pandas as pd
from omegaconf import DictConfig
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ENGINEERED = ["Total_Living_Area", "House_Age", "Years_Since_Remodel", "Total_Bathrooms"]


def engineer(frame: pd.DataFrame) -> pd.DataFrame:
    """Total living area, house age and years since remodel at sale, total bathrooms.

    Columns a dataset lacks (California) give no engineered feature; missing values stay missing
    and are imputed downstream.
    """
    out = frame.copy()
    if {"Gr_Liv_Area", "Total_Bsmt_SF"} <= set(out.columns):
        out["Total_Living_Area"] = out["Gr_Liv_Area"] + out["Total_Bsmt_SF"].fillna(0)
    if {"Year_Sold", "Year_Built", "Year_Remod_Add"} <= set(out.columns):
        out["House_Age"] = (out["Year_Sold"] - out["Year_Built"]).clip(lower=0)
        out["Years_Since_Remodel"] = (out["Year_Sold"] - out["Year_Remod_Add"]).clip(lower=0)
    baths = ["Full_Bath", "Half_Bath", "Bsmt_Full_Bath", "Bsmt_Half_Bath"]
    if set(baths) <= set(out.columns):
        b = out[baths].fillna(0)
        out["Total_Bathrooms"] = b["Full_Bath"] + 0.5 * b["Half_Bath"] + b["Bsmt_Full_Bath"] + 0.5 * b["Bsmt_Half_Bath"]
    return out


def engineered_columns(cfg: DictConfig) -> list[str]:
    sample = pd.DataFrame(columns=[*cfg.features.numeric, *cfg.features.categorical], dtype=float)
    return [name for name in ENGINEERED if name in engineer(sample).columns]


def build_preprocessor(cfg: DictConfig) -> ColumnTransformer:
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
