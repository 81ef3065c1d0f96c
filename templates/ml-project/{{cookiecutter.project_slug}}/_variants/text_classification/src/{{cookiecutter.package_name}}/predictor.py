"""The served predictor and this project's ``SERVED`` contract. Project-owned.

``Predictor`` turns request items (``schemas.Item``) into answers and logged traffic into the drift
signals that ``monitor`` compares with the training reference. ``SERVED``
(``mlcore.foundation.served.ServedModel``) is everything the API, the monitor, the smoke check, the
train stage and the MLflow pyfunc flavor read of this project's serving code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore.fastpath import FastModel
from mlcore.foundation.served import ServedModel, ServedPredictor
from mlcore.lifecycle import flavors

from .features import drift_signals
from .schemas import Answer, Item


class Predictor(ServedPredictor):
    """A fitted text pipeline with its decision threshold.

    ``model`` is the fitted pipeline, or a ``FastModel`` from a model folder: messages are scored
    by its compiled copy (``mlcore.fastpath.text_linear``, equal to ``predict_proba``) when it has
    one, so serving never loads scikit-learn; else by the pipeline.
    """

    def __init__(self, model: Any, threshold: float, labels: Sequence[str]) -> None:
        self.model = FastModel.of(model)
        self.threshold = float(threshold)
        self.negative, self.positive = labels
        self.key = f"{self.positive}_probability"

    @property
    def labels(self) -> list[str]:
        """Both labels, negative first (what ``POST /feedback`` accepts)."""
        return [self.negative, self.positive]

    @property
    def pipeline(self) -> Any:
        return self.model.native

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        if self.model.fast is not None:
            return np.asarray(self.model.fast.many(texts))
        return self.pipeline.predict_proba(pd.Series(list(texts), dtype=object))[:, 1]

    def predict(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        texts = [item.text for item in items]
        if self.model.fast is not None and len(texts) == 1:
            probas = [self.model.fast.proba(texts[0])]
        else:
            probas = self.probabilities(texts).tolist()
        return [
            {
                "label": self.positive if p >= self.threshold else self.negative,
                self.key: round(p, 6),
                "threshold": self.threshold,
            }
            for p in probas
        ]

    def linear(self) -> Any:
        """The compiled scorer: the fast path, else compiled from the pipeline (a shape it cannot
        compile has no exact explanation)."""
        if self.model.fast is not None:
            return self.model.fast
        from mlcore.fastpath import text_linear

        compiled = text_linear.compile(self.pipeline)
        if compiled is None:
            raise NotImplementedError("this pipeline's shape has no exact linear explanation")
        return compiled

    def explain(self, items: Sequence[Item], top: int = 10) -> list[dict[str, Any]]:
        """Each word's exact share of the logit: every n-gram's weight x TF-IDF value, split over
        the words it comes from (``text_linear.word_contributions``); the intercept plus every
        word's share is the logit the probability comes from. The ``top`` words by size are listed
        with their position in the text, the rest summed, and the strongest n-grams shown too."""
        scorer = self.linear()
        explained = []
        for item, answer in zip(items, self.predict(items), strict=True):
            intercept, words, unplaced = scorer.word_contributions(item.text)
            ranked = sorted(range(len(words)), key=lambda i: -abs(words[i][1]))
            listed = sorted(ranked[:top])
            _, grams = scorer.explain(item.text)
            strongest = sorted(grams, key=lambda gram: -abs(gram[2]))[:top]
            explained.append(
                {
                    **answer,
                    "explanation": {
                        "method": "linear model: weight x TF-IDF value of each n-gram, summed by word (exact)",
                        "output": f"log-odds of {self.positive} (positive: towards {self.positive})",
                        "base_value": intercept,
                        "value": intercept + math.fsum(share for _, share in words) + unplaced,
                        "terms": [{"name": words[i][0], "position": i, "contribution": words[i][1]} for i in listed],
                        "rest": math.fsum(words[i][1] for i in ranked[top:]) + unplaced,
                        "ngrams": [{"name": g, "analyzer": a, "contribution": v} for a, g, v in strongest],
                        "words": [{"name": word, "contribution": share} for word, share in words],
                        "exact": True,
                    },
                }
            )
        return explained

    def oov(self, texts: Sequence[str]) -> list[float]:
        if self.model.fast is not None:
            return [self.model.fast.oov_share(t) for t in texts]
        vectorizer = self.pipeline.named_steps["features"].transformer_list[0][1]
        analyze, vocab = vectorizer.build_analyzer(), vectorizer.vocabulary_
        shares = []
        for text in texts:
            grams = analyze(text)
            shares.append(1 - sum(g in vocab for g in grams) / len(grams) if grams else 1.0)
        return shares

    def drift_frame(
        self, inputs: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]] | None = None
    ) -> pd.DataFrame:
        texts = [row["text"] for row in inputs]
        probas = [row[self.key] for row in outputs] if outputs is not None else self.probabilities(texts)
        return drift_signals(texts, probas, self.oov(texts), self.threshold)


# Read-only endpoints the API adds for this model (path -> function of the loaded predictor).
ENDPOINTS: dict[str, Callable[[Any], Any]] = {}


def request_items(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the canonical table as API request items (demo traffic, benchmarks, tests)."""
    return [{"text": text} for text in frame["text"]]


def load_predictor(model_dir: Path) -> Predictor:
    """Load a model folder written by MLflow (registry download or local export)."""
    files = flavors.load(model_dir)
    return Predictor(FastModel.from_files(files), files.metadata["threshold"], files.metadata["labels"])


SERVED = ServedModel(
    package="{{ cookiecutter.package_name }}",
    home=f"{__name__}:SERVED",
    item=Item,
    answer=Answer,
    load=load_predictor,
    request_items=request_items,
    endpoints=ENDPOINTS,
)
