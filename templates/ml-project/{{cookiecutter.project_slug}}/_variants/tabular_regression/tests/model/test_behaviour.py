"""Behavioural tests of the trained model (project-owned: extend with your domain's invariants)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.predictor import load_predictor, request_items
from {{ cookiecutter.package_name }}.schemas import EXAMPLE, Item

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def predictor(trained: dict[str, Any]):
    return load_predictor(trained["root"] / trained["cfg"].paths.export)


def price(predictor, **changes: Any) -> float:
    return predictor.predict([Item(**{**EXAMPLE, **changes})])[0]["prediction"]


def test_heavier_stone_is_not_cheaper(predictor) -> None:
    assert price(predictor, carat=1.2, x=6.8, y=6.8, z=4.2) >= price(predictor, carat=0.7)


def test_field_order_does_not_matter(predictor) -> None:
    reordered = dict(reversed(list(EXAMPLE.items())))
    assert predictor.predict([Item(**reordered)]) == predictor.predict([Item(**EXAMPLE)])


def test_missing_optional_fields_are_imputed(predictor) -> None:
    out = predictor.predict([Item(carat=0.7, cut="Ideal", color="G", clarity="VS2")])[0]
    assert out["interval"][0] <= out["prediction"] <= out["interval"][1]


def test_predictions_stay_within_sane_bounds(predictor, trained: dict[str, Any]) -> None:
    test = pd.read_parquet(trained["root"] / trained["cfg"].paths.processed / "test.parquet")
    preds = [p["prediction"] for p in predictor.predict([Item(**row) for row in request_items(test)])]
    assert min(preds) > 0 and max(preds) < 3 * test["price"].max()
