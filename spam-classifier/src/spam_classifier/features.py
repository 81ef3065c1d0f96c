"""Features: TF-IDF word and character n-grams, and the drift signals of served traffic.

Project-owned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from omegaconf import DictConfig

if TYPE_CHECKING:  # scikit-learn is imported where a pipeline is built, never by a serving worker
    from sklearn.pipeline import FeatureUnion

URL_OR_NUMBER = r"(?u)\b\w\w+\b|https?://\S+|www\.\S+"


def build_features(cfg: DictConfig) -> FeatureUnion:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    word, char = cfg.features.word, cfg.features.char
    return FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    lowercase=True,
                    strip_accents="unicode",
                    token_pattern=URL_OR_NUMBER,
                    ngram_range=tuple(word.ngram_range),
                    min_df=word.min_df,
                    max_features=word.max_features,
                    sublinear_tf=word.sublinear_tf,
                    dtype=np.float64,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    lowercase=True,
                    strip_accents="unicode",
                    analyzer="char_wb",
                    ngram_range=tuple(char.ngram_range),
                    min_df=char.min_df,
                    max_features=char.max_features,
                    sublinear_tf=char.sublinear_tf,
                    dtype=np.float64,
                ),
            ),
        ]
    )


def drift_signals(
    texts: Sequence[str], probabilities: Sequence[float], oov: Sequence[float], threshold: float
) -> pd.DataFrame:
    """Per-message signals compared with the training reference: length, unknown words, score."""
    text = pd.Series(list(texts), dtype=object)
    proba = np.asarray(probabilities, dtype=float)
    return pd.DataFrame(
        {
            "length": text.str.len().astype(float),
            "words": text.str.split().str.len().astype(float),
            "oov_share": np.asarray(oov, dtype=float),
            "probability": proba,
            "predicted_positive": (proba >= threshold).astype(int).astype(str),
        }
    )
