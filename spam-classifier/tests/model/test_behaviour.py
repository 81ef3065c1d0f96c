"""Behavioural tests of the default model trained on the full SMS Spam Collection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlcore.data.splitting import dedupe, split
from mlcore.foundation.config import compose
from mlcore.tasks.metrics import choose_threshold, classification_metrics

from spam_classifier.model import build_model
from spam_classifier.predictor import Predictor
from spam_classifier.schemas import Item

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "data" / "interim" / "dataset.parquet"


@pytest.fixture(scope="module")
def fitted() -> tuple[Predictor, pd.DataFrame]:
    if not DATASET.exists():
        pytest.skip("data/interim/dataset.parquet is missing: run `make data` first")
    cfg = compose(ROOT / "configs")
    opts = cfg.train.split
    train, val, test = split(
        dedupe(pd.read_parquet(DATASET), ["text"]), opts.val_size, opts.test_size, opts.seed, "label"
    )
    pipeline = build_model(cfg.model, seed=opts.seed).fit(train["text"], train["label"] == "spam")
    threshold = choose_threshold(
        (val["label"] == "spam").to_numpy(int), pipeline.predict_proba(val["text"])[:, 1], cfg.train.target_precision
    )
    return Predictor(pipeline, threshold, ["ham", "spam"]), test


def proba(predictor: Predictor, text: str) -> float:
    return predictor.predict([Item(text=text)])[0]["spam_probability"]


def test_quality_gate_on_held_out_test_split(fitted) -> None:
    predictor, test = fitted
    y = (test["label"] == "spam").to_numpy(int)
    metrics = classification_metrics(y, predictor.probabilities(test["text"].tolist()), predictor.threshold)
    assert metrics["f1"] >= 0.93, metrics
    assert metrics["precision"] >= 0.90, metrics


@pytest.mark.parametrize(
    "text",
    [
        "Hey, are we still meeting for lunch tomorrow?",
        "URGENT! You have won a 1 week FREE membership in our prize draw. Txt WIN to 80086",
    ],
)
def test_casing_and_whitespace_invariance(fitted, text: str) -> None:
    predictor, _ = fitted
    base = proba(predictor, text)
    assert proba(predictor, text.upper()) == pytest.approx(base, abs=1e-9)
    assert proba(predictor, text.lower()) == pytest.approx(base, abs=1e-9)
    assert proba(predictor, "  " + "  ".join(text.split()) + " \n") == pytest.approx(base, abs=0.02)


@pytest.mark.parametrize(
    "text",
    [
        "WINNER!! You have been selected to receive a £900 prize reward! To claim call 09061701461. Valid 12 hours only",
        "Free entry in 2 a wkly comp to win FA Cup final tkts. Text FA to 87121 to receive entry question",
        "Congratulations! You've won a free holiday. Call now on 0906 123 4567 to claim your cash prize",
    ],
)
def test_obvious_spam(fitted, text: str) -> None:
    assert proba(fitted[0], text) >= fitted[0].threshold


@pytest.mark.parametrize(
    "text",
    [
        "Ok lar... Joking wif u oni...",
        "I'll be home in 10 minutes, do you want me to pick up some bread?",
        "Sorry, I'll call you later",
    ],
)
def test_obvious_ham(fitted, text: str) -> None:
    assert proba(fitted[0], text) < fitted[0].threshold


@pytest.mark.parametrize(
    "text",
    [
        "Your package is waiting, reply to confirm delivery",
        "Hi, can you send me the report?",
        "You have a new voicemail",
    ],
)
@pytest.mark.parametrize("addition", ["Visit http://bit.ly/claim-now", "Call 09061234567 now", "www.win-prizes.co.uk"])
def test_url_or_premium_number_never_lowers_spam_probability(fitted, text: str, addition: str) -> None:
    predictor, _ = fitted
    assert proba(predictor, f"{text} {addition}") >= proba(predictor, text) - 1e-9


def test_batch_equals_single(fitted) -> None:
    predictor, test = fitted
    texts = test["text"].head(20).tolist()
    batch = predictor.predict([Item(text=t) for t in texts])
    single = [predictor.predict([Item(text=t)])[0] for t in texts]
    assert batch == single
    assert np.isclose([b["spam_probability"] for b in batch], predictor.probabilities(texts), atol=1e-6).all()
