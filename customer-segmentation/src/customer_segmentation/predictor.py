"""The served predictor and this project's ``SERVED`` contract. Project-owned.

``Predictor`` turns customers (``schemas.Item``: features or transactions) into segments and logged
traffic into the drift signals that ``monitor`` compares with the training reference. ``SERVED``
(``mlcore.foundation.served.ServedModel``) is everything the API, the monitor, the smoke check, the
train stage and the MLflow pyfunc flavor read of this project's serving code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore.foundation.errors import InputError
from mlcore.foundation.served import ServedModel
from mlcore.tasks.clustering import ClusterPredictor
from pydantic import BaseModel

from .features import FEATURES, customer_features
from .schemas import Answer, Customer, Item, as_day

# Which purchase a feature computed from transactions comes from, to name it when out of bounds.
FEATURE_SOURCE = {"recency_days": max, "tenure_days": min, "mean_gap_days": min}


def check_bounds(features: Mapping[str, float], dates: Sequence[dt.date], where: str = "") -> None:
    """Features computed from transactions obey the bounds of the same features given directly
    (``InputError`` naming the purchase at fault): a purchase in 1900 scored as of 2025 is refused
    as a given ``recency_days`` of 45,656 would be."""
    for name, value in features.items():
        low, high = _bounds(name)
        if (low is not None and value < low) or (high is not None and value > high):
            pick = FEATURE_SOURCE.get(name)
            field = f"transactions.{dates.index(pick(dates))}.date" if pick else "transactions"
            raise InputError(
                f"{where}{field}",
                f"these purchases give {name} {value:,.0f}, outside {low:g}..{high:g}: check the purchase dates",
            )


def _bounds(name: str) -> tuple[float | None, float | None]:
    low = high = None
    for rule in Customer.model_fields[name].metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    return low, high


class Predictor(ClusterPredictor):
    """Segment id and name, distance to the segment's centre (``mlcore.tasks.clustering``), for customers
    given by their features or by their transactions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        snapshot = self.options.get("snapshot")
        self.snapshot = dt.date.fromisoformat(str(snapshot)) if snapshot else None

    def features_of(self, row: Mapping[str, Any], where: str = "") -> dict[str, float]:
        """The six features of one request item (given, or computed from its transactions)."""
        transactions = row.get("transactions")
        if not transactions:
            return {name: row.get(name) for name in FEATURES}
        as_of = row.get("as_of") or self.snapshot
        if as_of is None:
            raise InputError(f"{where}as_of", "this model has no snapshot date: give as_of")
        as_of = as_day(as_of)
        dates = [as_day(t["date"]) for t in transactions]
        late = [i for i, d in enumerate(dates) if d > as_of]
        if late:
            raise InputError(
                f"{where}transactions.{late[0]}.date",
                f"{dates[late[0]]} is after as_of {as_of} (the model's snapshot date unless as_of is given)",
            )
        features = customer_features(np.array(dates, dtype="datetime64[D]"), [t["amount"] for t in transactions], as_of)
        check_bounds(features, dates, where)
        return features

    def frame(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        prefix = len(rows) > 1
        values = [self.features_of(row, f"items.{i}." if prefix else "") for i, row in enumerate(rows)]
        return pd.DataFrame(values, columns=FEATURES, dtype=float)

    def computed(self, items: Sequence[BaseModel]) -> list[dict[str, float] | None]:
        """The features of each item given by its transactions (None where it gives the features)."""
        prefix = len(items) > 1
        return [
            self.features_of(item.model_dump(), f"items.{i}." if prefix else "") if item.transactions else None
            for i, item in enumerate(items)
        ]

    def feature_matrix(
        self, items: Sequence[BaseModel], computed: Sequence[dict[str, float] | None] | None = None
    ) -> np.ndarray:
        computed = self.computed(items) if computed is None else computed
        return np.array(
            [
                [(row[name] if row is not None else getattr(item, name)) for name in self.features]
                for item, row in zip(items, computed, strict=True)
            ],
            dtype=float,
        )

    def predict(self, items: Sequence[BaseModel]) -> list[dict[str, Any]]:
        computed = self.computed(items)
        answers = self.answers(self.feature_matrix(items, computed))
        for answer, row in zip(answers, computed, strict=True):
            if row is not None:
                answer["features"] = {k: round(v, 4) for k, v in row.items()}
        return answers

    def describe(self) -> dict[str, Any]:
        """What GET /segments returns: every segment's profile, and the snapshot date."""
        return {**super().describe(), "snapshot": self.snapshot.isoformat() if self.snapshot else None}


# Read-only endpoints the API adds for this model (path -> function of the loaded predictor).
ENDPOINTS = {"/segments": lambda predictor: predictor.describe()}


def request_items(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the customer table as API request items (demo traffic, benchmarks, tests)."""
    return frame[FEATURES].to_dict(orient="records")


def load_predictor(model_dir: Path) -> Predictor:
    """Load a model folder written by MLflow (registry download or local export)."""
    return Predictor.load(model_dir)


def transaction_items(root: Path, cfg: Any, n: int = 200) -> list[dict[str, Any]]:
    """Purchase-history requests for the first ``n`` test customers (benchmarks: ``--items``)."""
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet").head(n)
    rows = pd.read_parquet(root / cfg.paths.interim)
    rows = rows[rows["customer_id"].isin(set(test["customer_id"]))]
    return [
        {
            "transactions": [
                {"date": d.strftime("%Y-%m-%d"), "quantity": int(q), "amount": float(a)}
                for d, q, a in zip(history["date"], history["quantity"], history["amount"], strict=True)
            ]
        }
        for _, history in rows.groupby("customer_id")
    ]


SERVED = ServedModel(
    package="customer_segmentation",
    home=f"{__name__}:SERVED",
    item=Item,
    answer=Answer,
    load=load_predictor,
    request_items=request_items,
    endpoints=ENDPOINTS,
)
