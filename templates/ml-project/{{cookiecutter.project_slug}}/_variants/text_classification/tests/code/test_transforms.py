"""Pure functions: parsing, features, the compiled scorer, drift signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlcore import fastpath
from mlcore.foundation.config import compose
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.data import canonical, parse_csv
from {{ cookiecutter.package_name }}.features import drift_signals
from {{ cookiecutter.package_name }}.model import build_model
from {{ cookiecutter.package_name }}.predictor import Predictor
from {{ cookiecutter.package_name }}.schemas import Item

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TEXTS = [
    "WIN a FREE prize now!! call 09061234567",
    "are we still on for lunch?",
    "URGENT claim your cash",
    "see you at home",
] * 10
LABELS = np.array([1, 0, 1, 0] * 10)


def test_canonical_strips_text_and_lowercases_labels() -> None:
    frame = canonical(["  hi there ", "win"], [" HAM", "Spam "])
    assert frame.to_dict("list") == {"text": ["hi there", "win"], "label": ["ham", "spam"]}


def test_parse_csv_names_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("message,class\nhello,ham\n")
    with pytest.raises(ValueError, match="text"):
        parse_csv(path, "text", "label")


@pytest.mark.parametrize("model", ["default", "nb"])
def test_compiled_scorer_equals_sklearn(model: str) -> None:
    cfg = compose(CONFIGS, [f"model={model}"]).model
    pipeline = build_model(cfg).fit(pd.Series(TEXTS), LABELS)
    scorer = fastpath.compile(pipeline)
    assert scorer is not None
    probes = [*TEXTS[:4], "something entirely new 123", "", "Ünïcödé prize!!"]
    expected = pipeline.predict_proba(pd.Series(probes))[:, 1]
    np.testing.assert_allclose(scorer.many(probes), expected, rtol=1e-9, atol=1e-12)


def test_svm_falls_back_to_predict_proba() -> None:
    cfg = compose(CONFIGS, ["model=svm"]).model
    pipeline = build_model(cfg).fit(pd.Series(TEXTS), LABELS)
    predictor = Predictor(pipeline, 0.5, ["ham", "spam"])
    assert predictor.model.fast is None
    np.testing.assert_allclose(predictor.probabilities(TEXTS[:4]), pipeline.predict_proba(pd.Series(TEXTS[:4]))[:, 1])


def test_drift_signals_shape_and_values() -> None:
    frame = drift_signals(["ab cd", "x"], [0.9, 0.1], [0.0, 1.0], threshold=0.5)
    assert frame["length"].tolist() == [5.0, 1.0]
    assert frame["words"].tolist() == [2.0, 1.0]
    assert frame["predicted_positive"].tolist() == ["1", "0"]


@pytest.mark.parametrize("text", [" \n\t", "\u200b\u200d\ufeff"])
def test_a_message_with_nothing_visible_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="whitespace or invisible"):
        Item(text=text)
    assert Item(text="\u200bhello").text == "\u200bhello"
