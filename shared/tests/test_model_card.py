"""mlcore.lifecycle.model_card: the card's sections, intervals and HTML (the promote stage's use of
it, with a real registry, is tested in every project's tests/model/test_model.py)."""

from __future__ import annotations

import pytest
from mlcore.lifecycle.model_card import CardFacts, metric_rows, render, to_html, wilson


def test_wilson_interval_matches_the_textbook_value() -> None:
    low, high = wilson(0.9, 100)
    assert (low, high) == pytest.approx((0.8256, 0.9448), abs=1e-4)
    assert wilson(1.0, 50)[1] == pytest.approx(1.0) and wilson(0.0, 50)[0] == pytest.approx(0.0)


def test_rates_get_intervals_and_other_metrics_say_they_have_none() -> None:
    rows = {name: (value, span) for name, value, span in metric_rows(
        {"test_accuracy": 0.9, "test_rmse": 1234.5, "test_tp": 5.0, "test_f1_class_spam": 0.8, "val_f1": 0.7}, 100
    )}  # fmt: skip
    assert set(rows) == {"accuracy", "rmse"}
    assert rows["accuracy"] == ("0.9000", "0.8256 to 0.9448") and rows["rmse"][1].startswith("n/a")


def test_the_card_has_every_section_and_renders_as_html() -> None:
    facts = CardFacts(
        name="spam", version="3", task_type="text_classification", run_id="abc", decision="promoted: better",
        data={"name": "sms", "source": {"kind": "pypi", "sha256": "f" * 64}}, data_stats={"rows": 5574},
        test_rows=100, metrics={"test_accuracy": 0.9},
        explanation=[{"label": "spam", "term": "free", "importance": 0.5}], drift_signals=["length"],
        limitations=["English SMS only"],
    )  # fmt: skip
    card = render(facts)
    for section in ("Model details", "Intended use", "Training data", "Evaluation", "Slices", "Explanations"):
        assert f"## {section}" in card or f"### {section}" in card
    assert "`" + "f" * 64 + "`" in card and "| spam | free | 0.5000 |" in card and "- English SMS only" in card
    assert "No slice metrics were computed" in card and "`length`" in card
    page = to_html(card, "spam v3")
    assert "<table>" in page and "<title>spam v3</title>" in page and "<h1>" in page
