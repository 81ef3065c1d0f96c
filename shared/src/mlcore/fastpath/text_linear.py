"""Fast single-message scoring for TF-IDF + linear scikit-learn pipelines.

``Pipeline([(..., TfidfVectorizer | FeatureUnion of them), (..., LogisticRegression |
MultinomialNB)])`` is, for one message, a sum over its n-grams. Building sparse
matrices and running scikit-learn's input checks costs far more than that sum, so serving
"compiles" the fitted pipeline into dictionaries once and scores with plain Python. The result
equals ``predict_proba`` to float precision (tests assert it); any other pipeline falls back to
``predict_proba``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np


class _Block:
    """One fitted TfidfVectorizer with its slice of the linear weights."""

    def __init__(self, vectorizer: Any, weights: np.ndarray) -> None:
        self.analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self.index: dict[str, int] = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
        size = len(self.index)
        self.idf = np.asarray(vectorizer.idf_ if vectorizer.use_idf else np.ones(size), dtype=float)
        self.weights = np.asarray(weights, dtype=float)
        self.sublinear = bool(vectorizer.sublinear_tf)
        self.binary = bool(vectorizer.binary)
        if vectorizer.norm not in ("l2", None):
            raise ValueError(f"norm={vectorizer.norm!r} is not supported")
        self.l2 = vectorizer.norm == "l2"

    def score(self, text: str) -> tuple[float, int, int]:
        """(weighted sum, known n-grams, all n-grams) for ``text``."""
        grams = self.analyze(text)
        counts = Counter(grams)
        n = len(counts)
        idx = np.fromiter(map(self.index.get, counts.keys(), repeat(-1, n)), dtype=np.intp, count=n)
        tf = np.fromiter(counts.values(), dtype=float, count=n)
        hit = idx >= 0
        idx, tf = idx[hit], tf[hit]
        if not len(idx):
            return 0.0, 0, len(grams)
        known = int(tf.sum())
        if self.binary:
            tf = np.ones_like(tf)
        elif self.sublinear:
            tf = np.log(tf) + 1.0
        values = tf * self.idf[idx]
        total = float(values @ self.weights[idx])
        if self.l2:
            norm = math.sqrt(float(values @ values))
            total = total / norm if norm > 0 else 0.0
        return total, known, len(grams)


class LinearTextScorer:
    """``predict_proba(texts)[:, 1]`` of a compiled TF-IDF + linear pipeline."""

    def __init__(self, blocks: list[_Block], intercept: float) -> None:
        self.blocks = blocks
        self.intercept = intercept

    def proba(self, text: str) -> float:
        z = self.intercept
        for block in self.blocks:
            z += block.score(text)[0]
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def many(self, texts: Sequence[str]) -> list[float]:
        return [self.proba(t) for t in texts]


def compile_pipeline(pipeline: Any) -> LinearTextScorer | None:
    """Compile a fitted binary text pipeline, or return None when it is not of a supported shape."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import FeatureUnion, Pipeline

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        return None
    features, clf = pipeline.steps[0][1], pipeline.steps[1][1]
    if isinstance(features, TfidfVectorizer):
        vectorizers = [features]
    elif isinstance(features, FeatureUnion) and all(
        isinstance(t, TfidfVectorizer) for _, t in features.transformer_list
    ):
        if features.transformer_weights:
            return None
        vectorizers = [t for _, t in features.transformer_list]
    else:
        return None
    if len(getattr(clf, "classes_", [])) != 2:
        return None
    if isinstance(clf, LogisticRegression):
        weights, intercept = clf.coef_[0], float(clf.intercept_[0])
    elif isinstance(clf, MultinomialNB):
        weights = clf.feature_log_prob_[1] - clf.feature_log_prob_[0]
        intercept = float(clf.class_log_prior_[1] - clf.class_log_prior_[0])
    else:
        return None
    blocks: list[_Block] = []
    offset = 0
    for vec in vectorizers:
        size = len(vec.vocabulary_)
        blocks.append(_Block(vec, np.asarray(weights[offset : offset + size], dtype=float)))
        offset += size
    return LinearTextScorer(blocks, intercept)


def oov_share(scorer: LinearTextScorer, text: str) -> float:
    """Share of the first block's n-grams (words, by convention) missing from the vocabulary."""
    _, known, total = scorer.blocks[0].score(text)
    return 1.0 - known / total if total else 1.0
