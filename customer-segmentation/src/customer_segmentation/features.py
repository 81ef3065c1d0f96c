"""Customer features as of a snapshot date, preprocessing, and segment names.

One customer's purchase history becomes six numbers (``customer_features``; the API computes the
same from a request's transactions, and ``build_table`` from every customer's history, so training
and serving cannot disagree):

- ``recency_days``: days from the last purchase to the snapshot date;
- ``frequency``: purchase days (several purchases on one day count once);
- ``monetary``: total spend;
- ``tenure_days``: days from the first purchase to the snapshot date;
- ``avg_basket``: spend per purchase day (``monetary / frequency``);
- ``mean_gap_days``: mean days between purchase days; for a one-time buyer, the days since that
  purchase (no second purchase in that long).

Skewed features are log1p-transformed (``data.features.log``), then every feature is robust-scaled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from mlcore.tasks.clustering import robust_preprocessor
from mlcore.tasks.segments import unique_names
from omegaconf import DictConfig

if TYPE_CHECKING:  # scikit-learn is imported where a pipeline is built, never by a serving worker
    from sklearn.compose import ColumnTransformer

FEATURES = ["recency_days", "frequency", "monetary", "tenure_days", "avg_basket", "mean_gap_days"]


def customer_features(
    days: Sequence[np.datetime64], amounts: Sequence[float], as_of: np.datetime64
) -> dict[str, float]:
    """The six features of one customer from their purchase dates and amounts (any order)."""
    dates = np.asarray(days, dtype="datetime64[D]")
    spend = float(np.sum(np.asarray(amounts, dtype=float)))
    unique = np.unique(dates)
    first, last = unique[0], unique[-1]
    as_of = np.datetime64(as_of, "D")
    frequency = len(unique)
    tenure = float((as_of - first) / np.timedelta64(1, "D"))
    span = float((last - first) / np.timedelta64(1, "D"))
    return {
        "recency_days": float((as_of - last) / np.timedelta64(1, "D")),
        "frequency": float(frequency),
        "monetary": spend,
        "tenure_days": tenure,
        "avg_basket": spend / frequency,
        "mean_gap_days": span / (frequency - 1) if frequency > 1 else tenure,
    }


def build_table(rows: pd.DataFrame, cfg: DictConfig) -> pd.DataFrame:
    """One row per customer with the six features as of the end of ``cfg.table.snapshot`` (purchases after
    the snapshot are ignored, so a past snapshot gives an honest back-test)."""
    as_of = pd.Timestamp(cfg.table.snapshot)
    seen = rows[rows["date"] <= as_of]
    days = seen.groupby(["customer_id", "date"], as_index=False)["amount"].sum()
    per = days.groupby("customer_id").agg(
        first=("date", "min"), last=("date", "max"), frequency=("date", "size"), monetary=("amount", "sum")
    )
    tenure = (as_of - per["first"]).dt.days.astype(float)
    span = (per["last"] - per["first"]).dt.days.astype(float)
    frequency = per["frequency"].astype(float)
    table = pd.DataFrame(
        {
            "customer_id": per.index.astype(str),
            "recency_days": (as_of - per["last"]).dt.days.astype(float).to_numpy(),
            "frequency": frequency.to_numpy(),
            "monetary": per["monetary"].astype(float).to_numpy(),
            "tenure_days": tenure.to_numpy(),
            "avg_basket": (per["monetary"] / frequency).to_numpy(),
            "mean_gap_days": np.where(frequency > 1, span / (frequency - 1).clip(lower=1), tenure),
        }
    )
    return table.reset_index(drop=True)


def build_preprocessor(cfg: DictConfig) -> ColumnTransformer:
    return robust_preprocessor(cfg.features.numeric, cfg.features.get("log", []))


def rfm_name(row: Mapping[str, float], overall: Mapping[str, float], rules: Mapping[str, float]) -> str:
    """Name one segment from its median recency R, mean purchase days F and mean spend M, against
    every customer's spend (quartiles, 90th percentile):

    ==========================  ==========================  ======================  ===============
    R                           M >= 90th pct (active) or    F >= repeat_purchases   otherwise
                                M >= 75th pct (lapsing)
    ==========================  ==========================  ======================  ===============
    <= recent_days (active)     champions                    loyal                   new
    <= lapsed_days (lapsing)    can't lose them              at risk                 about to sleep
    longer (gone)               -                            hibernating             lost
    ==========================  ==========================  ======================  ===============
    """
    repeat = row["mean_frequency"] >= rules["repeat_purchases"]
    spend = row["mean_monetary"]
    if row["median_recency_days"] <= rules["recent_days"]:
        return "champions" if spend >= overall["q90_monetary"] else "loyal" if repeat else "new"
    if row["median_recency_days"] <= rules["lapsed_days"]:
        return "can't lose them" if spend >= overall["q75_monetary"] else "at risk" if repeat else "about to sleep"
    return "hibernating" if repeat else "lost"


def name_segments(profile: pd.DataFrame, overall: Mapping[str, float], cfg: DictConfig) -> dict[int, str]:
    """Human names from the profiles (``rfm_name``); segments that earn the same name are told
    apart by mean spend ("lost (high spend)", "lost (low spend)")."""
    names = {int(row["segment"]): rfm_name(row, overall, cfg.table.naming) for _, row in profile.iterrows()}
    return unique_names(names, profile, order_by="mean_monetary", tier_label="spend")
