"""Behavioural tests of the trained model (project-owned: extend with your domain's invariants)."""

from __future__ import annotations

from typing import Any

import pytest

from {{ cookiecutter.package_name }}.predictor import load_predictor
from {{ cookiecutter.package_name }}.schemas import EXAMPLE, Item

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def predictor(trained: dict[str, Any]):
    return load_predictor(trained["root"] / trained["cfg"].paths.export)


def segment(predictor, **values: float) -> int:
    return predictor.predict([Item(**values)])[0]["segment"]


def test_short_and_long_eruptions_land_in_different_segments(predictor) -> None:
    assert segment(predictor, eruptions=1.8, waiting=54) != segment(predictor, eruptions=4.5, waiting=82)


def test_similar_points_share_a_segment(predictor) -> None:
    assert segment(predictor, eruptions=4.4, waiting=80) == segment(predictor, eruptions=4.5, waiting=81)


def test_every_segment_has_a_distinct_name(predictor) -> None:
    names = list(predictor.names.values())
    assert len(names) == len(predictor.centres) == len(set(names))
    answer = predictor.predict([Item(**EXAMPLE)])[0]
    assert answer["segment_name"] == predictor.names[answer["segment"]]


def test_answer_does_not_depend_on_field_order(predictor) -> None:
    reordered = dict(reversed(list(EXAMPLE.items())))
    assert predictor.predict([Item(**reordered)]) == predictor.predict([Item(**EXAMPLE)])
