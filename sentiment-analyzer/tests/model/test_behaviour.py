"""Behavioural tests in the manner of CheckList (Ribeiro et al., 2020), on the promoted model:

- negation (directional): "good" -> "not good" lowers the positive probability on every template,
  and flips most labels;
- intensifiers (directional): "good" -> "really good" does not lower confidence much;
- names and places (invariance): swapping them leaves the label alone;
- typos (invariance): two swapped letters flip at most 10% of confident (>= 0.9) predictions.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sentiment_analyzer.predictor import Predictor, load_predictor

pytestmark = pytest.mark.slow  # every test here uses the trained pipeline

TEMPLATES = [
    "The movie was {}.",
    "This film is {}.",
    "I thought the acting was {}.",
    "Overall, the story is {}.",
    "The soundtrack was {}.",
    "What a {} performance.",
    "The script is {} from start to finish.",
    "Honestly, the direction was {}.",
]
POSITIVE = ["good", "great", "wonderful", "excellent", "funny"]
NEGATIVE = ["bad", "boring", "awful", "terrible", "dull"]
NAMES = ["Tom Hanks", "Meryl Streep", "Akira Kurosawa", "Nia Long", "Olusegun Adeyemi", "Priya Raman"]
PLACES = ["Paris", "Lagos", "Ohio", "Mumbai", "Glasgow", "Lima"]
PEOPLE = [
    "{} gives a wonderful, moving performance.",
    "{} is wasted in this tedious, clumsy mess.",
    "The best film {} has made in years.",
    "{} cannot save this dull and lifeless script.",
]
SETTINGS = [
    "A charming, funny comedy set in {}.",
    "A grim, boring thriller set in {} that goes nowhere.",
    "Shot beautifully in {}, it is a delight.",
    "Even the scenery of {} cannot rescue this awful film.",
]


@pytest.fixture(scope="module")
def model(trained: dict[str, Any]) -> Predictor:
    root, cfg = Path(trained["root"]), trained["cfg"]
    return load_predictor(root / cfg.paths.model)


def positive(model: Predictor, texts: list[str]) -> np.ndarray:
    return np.array([a["positive_probability"] for a in model.predict([{"text": t} for t in texts])])


def test_negation_lowers_positivity_and_flips_most_labels(model: Predictor) -> None:
    plain = [t.format(w) for t in TEMPLATES for w in POSITIVE]
    negated = [t.format("not " + w) for t in TEMPLATES for w in POSITIVE]
    p, q = positive(model, plain), positive(model, negated)
    lowered = float((q < p).mean())
    assert lowered >= 0.9, f"negation lowered positivity on {100 * lowered:.0f} % of {len(p)} pairs"
    flipped = ((p >= 0.5) & (q < 0.5)).sum() / max((p >= 0.5).sum(), 1)
    assert flipped >= 0.6, f"only {100 * flipped:.0f} % of positive texts turned negative when negated"


def test_intensifiers_do_not_lower_confidence(model: Predictor) -> None:
    for words, sign in ((POSITIVE, 1.0), (NEGATIVE, -1.0)):
        plain = [t.format(w) for t in TEMPLATES for w in words]
        strong = [t.format("really " + w) for t in TEMPLATES for w in words]
        p, q = positive(model, plain), positive(model, strong)
        # confidence in the text's direction may not fall by more than 0.1 on any pair
        assert (sign * (q - p) >= -0.1).all(), list(zip(plain, p.round(3), q.round(3), strict=True))


@pytest.mark.parametrize(("templates", "fillers"), [(PEOPLE, NAMES), (SETTINGS, PLACES)])
def test_names_and_places_do_not_change_the_label(model: Predictor, templates: list[str], fillers: list[str]) -> None:
    for template in templates:
        labels = {a["label"] for a in model.predict([{"text": template.format(f)} for f in fillers])}
        assert len(labels) == 1, f"{template!r}: labels {labels} depend on the name or place"


def swap_letters(text: str, rng: random.Random, swaps: int = 2) -> str:
    chars = list(text)
    spots = [i for i in range(len(chars) - 1) if chars[i].isalpha() and chars[i + 1].isalpha()]
    for i in rng.sample(spots, min(swaps, len(spots))):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def test_typos_do_not_flip_confident_predictions(model: Predictor, trained: dict[str, Any]) -> None:
    import pandas as pd

    root, cfg = Path(trained["root"]), trained["cfg"]
    texts = pd.read_parquet(root / cfg.paths.processed / "test.parquet")["text"].tolist()
    answers = model.predict([{"text": t} for t in texts])
    confident = [t for t, a in zip(texts, answers, strict=True) if a["probability"] >= 0.9]
    assert len(confident) >= 20, "too few confident predictions to test"
    rng = random.Random(0)
    typos = model.predict([{"text": swap_letters(t, rng)} for t in confident])
    before = model.predict([{"text": t} for t in confident])
    flips = sum(a["label"] != b["label"] for a, b in zip(before, typos, strict=True))
    assert flips / len(confident) <= 0.10, f"{flips} of {len(confident)} confident predictions flipped by two typos"


def test_each_other_domain_lists_its_most_confident_mistakes(trained: dict[str, Any]) -> None:
    import json

    table = json.loads((Path(trained["root"]) / trained["cfg"].paths.reports / "domains.json").read_text())["domains"]
    others = {name: row for name, row in table.items() if not name.endswith("(test)")}
    assert others, table.keys()
    for name, row in others.items():
        errors = row["worst_errors"]
        assert len(errors) <= 5 and all(e["label"] != e["predicted"] for e in errors), name
        assert [e["confidence"] for e in errors] == sorted((e["confidence"] for e in errors), reverse=True)
        assert row["accuracy"] < 1.0 or not errors
