"""Requests with raw transactions, on the real API (the ``server`` fixture: uvicorn on loopback)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from customer_segmentation.schemas import EXAMPLE_TRANSACTIONS

pytestmark = pytest.mark.slow
TXN = {"date": "1998-03-02", "quantity": 1, "amount": 12.5}


def test_transactions_are_scored_with_their_features(server: str) -> None:
    response = httpx.post(f"{server}/predict", json=EXAMPLE_TRANSACTIONS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"segment", "segment_name", "distance", "features"} <= set(body)
    assert body["features"]["frequency"] == 3 and body["features"]["recency_days"] == 41


def test_mixed_batch_of_features_and_transactions(server: str) -> None:
    from customer_segmentation.schemas import EXAMPLE

    response = httpx.post(f"{server}/predict", json={"items": [EXAMPLE, EXAMPLE_TRANSACTIONS]})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 2


# a month ahead, not tomorrow: computed when the module loads, so a run that crosses midnight
# would send "tomorrow" after it has become today
NEXT_MONTH = (dt.date.today() + dt.timedelta(days=30)).isoformat()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"transactions": [{**TXN, "date": "1998-02-30"}]}, "transactions.0.date"),
        ({"transactions": [{**TXN, "date": 19980302}]}, "YYYY-MM-DD"),
        ({"transactions": [{**TXN, "date": "1998-W10-1"}]}, "YYYY-MM-DD"),
        ({"transactions": [TXN, {**TXN, "amount": -5}]}, "transactions.1.amount"),
        ({"transactions": [{**TXN, "date": NEXT_MONTH}]}, "in the future"),
        ({"transactions": []}, "transactions"),
        ({"transactions": [TXN], "as_of": "1998-01-01"}, "after as_of"),
        ({"transactions": [{**TXN, "date": "1998-08-01"}]}, "transactions.0.date"),
        ({"transactions": [TXN], "recency_days": 3}, "not both"),
        ({"recency_days": 3, "frequency": 2}, "missing feature"),
        ({}, "give transactions"),
    ],
    ids=[
        "bad-date",
        "numeric-date",
        "week-date",
        "negative-amount",
        "future-date",
        "empty-history",
        "after-as-of",
        "after-snapshot",
        "both-forms",
        "partial-features",
        "nothing",
    ],
)
def test_bad_requests_are_422_with_the_reason(server: str, body: dict[str, Any], reason: str) -> None:
    response = httpx.post(f"{server}/predict", json=body)
    assert response.status_code == 422, response.text
    assert reason in response.json()["error"]


def test_bad_item_in_a_batch_is_named_by_index(server: str) -> None:
    late = {"transactions": [{**TXN, "date": "1998-08-01"}]}
    response = httpx.post(f"{server}/predict", json={"items": [EXAMPLE_TRANSACTIONS, late]})
    assert response.status_code == 422
    assert "items.1.transactions.0.date" in response.json()["error"]


def test_segments_name_the_snapshot_and_every_feature(server: str, trained: dict[str, Any]) -> None:
    body = httpx.get(f"{server}/segments").json()
    assert body["snapshot"] == trained["cfg"].data.table.snapshot
    assert all(f"mean_{name}" in s for s in body["segments"] for name in trained["cfg"].data.features.profile)
    vocabulary = {"champions", "loyal", "new", "can't lose them", "at risk", "about to sleep", "hibernating", "lost"}
    assert {s["name"].split(" (")[0] for s in body["segments"]} <= vocabulary


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"transactions": [TXN], "as_of": "1998-01-01"}, "transactions.0.date"),
        ({"transactions": [TXN], "recency_days": 3}, "recency_days"),
        ({"recency_days": 3, "frequency": 2}, "monetary"),
        ({"as_of": "1998-01-01"}, "as_of"),
        ({"transactions": [{**TXN, "date": "1900-01-02"}], "as_of": "2025-01-01"}, "transactions.0.date"),
        ({"transactions": [TXN, {**TXN, "date": "1890-01-02"}], "as_of": "1998-03-10"}, "transactions.1.date"),
    ],
    ids=["after-as-of", "both-forms", "partial-features", "as-of-alone", "last-purchase-1900", "first-purchase-1890"],
)
def test_rules_name_the_field_at_fault(server: str, body: dict[str, Any], field: str) -> None:
    """Rules over the whole customer name the field (not `body`); features computed from
    transactions obey the bounds of the same features given directly (recency_days <= 36,500)."""
    response = httpx.post(f"{server}/predict", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == field, response.text


def test_given_features_break_a_rule_by_name(server: str) -> None:
    from customer_segmentation.schemas import EXAMPLE

    response = httpx.post(f"{server}/predict", json={**EXAMPLE, "tenure_days": 1.0, "recency_days": 5.0})
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "tenure_days", response.text
