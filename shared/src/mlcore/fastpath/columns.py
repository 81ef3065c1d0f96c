"""The first step of a text pipeline: the documented input in, the texts out.

A scikit-learn text vectorizer iterates whatever it is given, so a DataFrame (what ``mlflow.sklearn``
users pass: the model's own input example has a ``text`` column) is read as its column names and
scored as one message. ``TextColumn`` takes the frame and selects its text column, or takes the
texts themselves (a Series, a list or an array of strings), and refuses anything else with an
error that says what to send. It imports scikit-learn: training and the native flavor load it; the
compiled fast path (``text_linear``) skips it and never does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class TextColumn(TransformerMixin, BaseEstimator):
    """``X`` -> a Series of texts: the ``column`` of a DataFrame, or a sequence of strings."""

    def __init__(self, column: str = "text") -> None:
        self.column = column

    def fit(self, X: Any, y: Any = None) -> TextColumn:  # noqa: N803 - scikit-learn's names
        self.transform(X)
        return self

    def transform(self, X: Any) -> pd.Series:  # noqa: N803
        if isinstance(X, pd.DataFrame):
            if self.column not in X.columns:
                raise ValueError(f"expected a DataFrame with a {self.column!r} column, got columns {list(X.columns)}")
            texts = X[self.column]
        elif isinstance(X, pd.Series | list | tuple | np.ndarray) and np.ndim(X) == 1:
            texts = pd.Series(list(X), dtype=object)
        else:
            raise TypeError(
                f"expected a DataFrame with a {self.column!r} column or a sequence of texts, got {type(X).__name__}"
            )
        bad = [i for i, text in enumerate(texts) if not isinstance(text, str)]
        if bad:
            raise TypeError(f"row {bad[0]}: expected a text, got {type(texts.iloc[bad[0]]).__name__}")
        return texts.reset_index(drop=True)
