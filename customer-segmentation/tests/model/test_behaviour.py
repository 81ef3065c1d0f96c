"""Behavioural tests of the trained model: what a marketer would expect of the segments."""

from __future__ import annotations

import random
from typing import Any

import pytest

from customer_segmentation.predictor import load_predictor
from customer_segmentation.schemas import EXAMPLE, Customer

pytestmark = pytest.mark.slow
DORMANT = ("lost", "hibernating", "about to sleep")


@pytest.fixture(scope="module")
def predictor(trained: dict[str, Any]):
    return load_predictor(trained["root"] / trained["cfg"].paths.export)


def answer(predictor, **body: Any) -> dict[str, Any]:
    return predictor.predict([Customer(**body)])[0]


def top_value_segment(predictor) -> int:
    return max(predictor.segments, key=lambda s: s["mean_monetary"])["segment"]


def history(dates: list[str], amount: float) -> list[dict[str, Any]]:
    return [{"date": d, "quantity": 2, "amount": amount} for d in dates]


FREQUENT = history([f"1997-{m:02d}-15" for m in range(1, 13)] + [f"1998-{m:02d}-10" for m in range(1, 7)], 45.0)


def test_frequent_recent_big_spender_is_in_the_top_value_segment(predictor) -> None:
    got = answer(predictor, transactions=FREQUENT)
    assert got["segment"] == top_value_segment(predictor)
    assert got["segment_name"] == "champions"


def test_one_purchase_long_ago_is_dormant(predictor) -> None:
    got = answer(predictor, transactions=history(["1997-01-20"], 15.0))
    assert got["segment_name"].startswith(DORMANT), got
    assert got["segment"] != top_value_segment(predictor)


def test_transaction_order_does_not_change_the_answer(predictor) -> None:
    shuffled = FREQUENT[:]
    random.Random(3).shuffle(shuffled)
    assert answer(predictor, transactions=shuffled) == answer(predictor, transactions=FREQUENT)
    assert answer(predictor, transactions=FREQUENT[::-1]) == answer(predictor, transactions=FREQUENT)


def test_transactions_and_their_features_give_the_same_answer(predictor) -> None:
    from_history = answer(predictor, transactions=FREQUENT)
    from_features = answer(predictor, **from_history["features"])
    assert from_features["segment"] == from_history["segment"]
    assert from_features["distance"] == pytest.approx(from_history["distance"], abs=1e-3)


def test_as_of_shifts_only_the_time_features(predictor) -> None:
    recent = answer(predictor, transactions=FREQUENT)["features"]
    later = answer(predictor, transactions=FREQUENT, as_of="2001-07-01")["features"]
    for name in ("recency_days", "tenure_days"):
        assert later[name] == recent[name] + 1096  # 1998-07-01 -> 2001-07-01
    for name in ("frequency", "monetary", "avg_basket", "mean_gap_days"):
        assert later[name] == recent[name]


def test_every_segment_has_a_distinct_name(predictor) -> None:
    names = list(predictor.names.values())
    assert len(names) == len(predictor.centres) == len(set(names))
    got = answer(predictor, **EXAMPLE)
    assert got["segment_name"] == predictor.names[got["segment"]]
