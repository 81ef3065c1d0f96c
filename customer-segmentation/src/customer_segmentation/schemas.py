"""API schema and predictor: a customer's features, or their raw transactions.

``POST /predict`` takes either the six features of ``features.py`` or the customer's purchases
(``transactions``: date, quantity, amount), from which the same features are computed as of
``as_of`` (default: the snapshot date the model was trained at). The answer is the segment id, its
name and the distance to the segment's centre in the model's scaled feature space.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore.serving.fields import rule_error
from mlcore.serving.predictor import InputError
from mlcore.tasks.clustering import ClusterPredictor, SegmentAnswer
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .features import FEATURES, customer_features

EXAMPLE = {
    "recency_days": 45.0,
    "frequency": 9.0,
    "monetary": 420.0,
    "tenure_days": 520.0,
    "avg_basket": 46.7,
    "mean_gap_days": 55.0,
}
EXAMPLE_TRANSACTIONS = {
    "transactions": [
        {"date": "1997-02-11", "quantity": 2, "amount": 29.33},
        {"date": "1997-09-30", "quantity": 1, "amount": 13.97},
        {"date": "1998-05-21", "quantity": 3, "amount": 41.5},
    ],
    "as_of": "1998-07-01",
}


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value: Any) -> dt.date:
    """A calendar date written YYYY-MM-DD, not in the future (no numbers: 19970101 is ambiguous)."""
    if isinstance(value, dt.date):
        day = value
    elif isinstance(value, str) and ISO_DAY.fullmatch(value.strip()):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date written YYYY-MM-DD") from None
    else:
        raise ValueError(f"{value!r} is not a date written YYYY-MM-DD")
    if day > dt.date.today():
        raise ValueError(f"{day} is in the future (today is {dt.date.today()})")
    return day


def as_day(value: Any) -> dt.date:
    """A date from the API (already a date) or from the prediction log (its ISO string)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


class Transaction(BaseModel):
    """One purchase."""

    model_config = ConfigDict(extra="forbid")
    date: dt.date = Field(description="Purchase date, YYYY-MM-DD; not in the future.")
    quantity: int = Field(default=1, ge=1, le=100_000, description="Items bought (at least 1).")
    amount: float = Field(ge=0, le=1_000_000, allow_inf_nan=False, description="Amount paid (0 or more).")

    _date = field_validator("date", mode="before")(parse_date)


class Customer(BaseModel):
    """A customer: either the six features, or the purchase history they are computed from."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE, EXAMPLE_TRANSACTIONS]})
    recency_days: float | None = Field(None, ge=0, le=36_500, description="Days since the last purchase.")
    frequency: float | None = Field(None, ge=1, le=100_000, description="Purchase days (at least 1).")
    monetary: float | None = Field(None, ge=0, le=1e9, description="Total spend.")
    tenure_days: float | None = Field(None, ge=0, le=36_500, description="Days since the first purchase.")
    avg_basket: float | None = Field(None, ge=0, le=1e9, description="Spend per purchase day.")
    mean_gap_days: float | None = Field(None, ge=0, le=36_500, description="Mean days between purchase days.")
    transactions: list[Transaction] | None = Field(
        None, min_length=1, max_length=10_000, description="Purchases; instead of the features."
    )
    as_of: dt.date | None = Field(
        None, description="Score as of this date (YYYY-MM-DD; default: the model's snapshot date)."
    )

    _as_of = field_validator("as_of", mode="before")(lambda v: None if v is None else parse_date(v))

    @model_validator(mode="after")
    def features_or_transactions(self) -> Customer:
        given = [name for name in FEATURES if getattr(self, name) is not None]
        if self.transactions is not None:
            if given:
                raise rule_error(given[0], f"give transactions or features, not both (got transactions and {given})")
            if self.as_of is not None:
                late = [i for i, t in enumerate(self.transactions) if t.date > self.as_of]
                if late:
                    first = self.transactions[late[0]].date
                    raise rule_error(f"transactions.{late[0]}.date", f"{first} is after as_of {self.as_of}")
            return self
        if self.as_of is not None:
            raise rule_error("as_of", "as_of only applies to transactions")
        missing = [name for name in FEATURES if name not in given]
        if len(missing) == len(FEATURES):
            raise ValueError(f"give transactions (a list of purchases) or all features {FEATURES}")
        if missing:
            raise rule_error(missing[0], f"missing feature(s) {missing}: give all of {FEATURES}, or transactions")
        if self.tenure_days < self.recency_days:
            raise rule_error(
                "tenure_days", "tenure_days is below recency_days: the first purchase cannot follow the last"
            )
        return self


Item = Customer

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


Answer = SegmentAnswer


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

    def predict(self, items: Sequence[BaseModel]) -> list[dict[str, Any]]:
        prefix = len(items) > 1
        computed = [
            self.features_of(item.model_dump(), f"items.{i}." if prefix else "") if item.transactions else None
            for i, item in enumerate(items)
        ]
        matrix = np.array(
            [
                [(row[name] if row is not None else getattr(item, name)) for name in self.features]
                for item, row in zip(items, computed, strict=True)
            ],
            dtype=float,
        )
        answers = self.answers(matrix)
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
