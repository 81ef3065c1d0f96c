"""Behavioural tests of the trained model (project-owned: extend with your domain's invariants)."""

from __future__ import annotations

from typing import Any

import pytest

from {{ cookiecutter.package_name }}.predictor import load_predictor
from {{ cookiecutter.package_name }}.schemas import Item

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def predictor(trained: dict[str, Any]):
    return load_predictor(trained["root"] / trained["cfg"].paths.export)


def proba(predictor, text: str) -> float:
    return predictor.predict([Item(text=text)])[0][predictor.key]


def test_casing_and_whitespace_do_not_change_the_answer(predictor) -> None:
    text = "Congratulations you have won a free prize, call now"
    base = proba(predictor, text)
    assert proba(predictor, text.upper()) == pytest.approx(base, abs=1e-9)
    assert proba(predictor, "  " + text.replace(" ", "   ") + "\n") == pytest.approx(base, abs=0.05)


def test_obvious_examples(predictor) -> None:
    assert proba(predictor, "FREE entry! WIN cash prize, txt CLAIM to 80082 now") > 0.5
    assert proba(predictor, "Ok see you at home later, I'll bring dinner") < 0.5
