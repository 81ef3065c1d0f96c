"""Request and answer models of the API: a customer's features, or their raw transactions. Project-owned.

``POST /predict`` takes either the six features of ``features.py`` or the customer's purchases
(``transactions``: date, quantity, amount), from which the same features are computed as of
``as_of`` (default: the snapshot date the model was trained at). The answer is the segment id, its
name and the distance to the segment's centre in the model's scaled feature space. The predictor is
in ``predictor.py``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from mlcore.serving.fields import WholeNumber, rule_error
from mlcore.tasks.clustering import SegmentAnswer
from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, field_validator, model_validator

from .features import FEATURES

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
    if day > dt.date.today():  # a rule the document cannot state (it moves with the calendar)
        raise rule_error(None, f"{day} is in the future (today is {dt.date.today()})")
    return day


def as_day(value: Any) -> dt.date:
    """A date from the API (already a date) or from the prediction log (its ISO string)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


class Transaction(BaseModel):
    """One purchase."""

    model_config = ConfigDict(extra="forbid")
    date: dt.date = Field(description="Purchase date, YYYY-MM-DD; not in the future.")
    quantity: WholeNumber = Field(default=1, ge=1, le=100_000, description="Items bought (at least 1).")
    amount: float = Field(ge=0, le=1_000_000, allow_inf_nan=False, description="Amount paid (0 or more).")

    _date = field_validator("date", mode="before")(parse_date)


def either_form(schema: dict[str, Any]) -> None:
    """The document's ``Customer``: all six features, or transactions (a null counts as not given).
    What it cannot state (tenure_days >= recency_days; no purchase after as_of or today) is an
    ``item_rule`` error."""
    null = {"type": "null"}
    schema["oneOf"] = [
        {
            "title": "Features",
            "required": list(FEATURES),
            "properties": {**{name: {"type": "number"} for name in FEATURES}, "transactions": null, "as_of": null},
        },
        {
            "title": "Transactions",
            "required": ["transactions"],
            "properties": {**{name: null for name in FEATURES}, "transactions": {"type": "array"}},
        },
    ]


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

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        schema = handler(core_schema)
        either_form(handler.resolve_ref_schema(schema))
        return schema

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


Answer = SegmentAnswer
