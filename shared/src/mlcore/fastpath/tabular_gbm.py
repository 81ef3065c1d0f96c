"""Fast single-row scoring for tabular scikit-learn pipelines.

``Pipeline([... , ("features", ColumnTransformer([(numeric: SimpleImputer + StandardScaler),
(categorical: SimpleImputer + OneHotEncoder)])), ("regressor", [TransformedTargetRegressor of]
HistGradientBoostingRegressor)])`` costs tens of milliseconds for one row in scikit-learn
(per-column DataFrame work, a Python loop over hundreds of trees). Serving compiles the fitted
parts into arrays once: the preprocessing becomes a few vector operations and a dictionary lookup
per category, the forest is walked level by level for all trees at once. Results equal
``pipeline.predict`` to float precision (tests assert it); other shapes are not compiled (None).
A missing value is ``None`` or NaN here; give the pipeline NaN (scikit-learn's imputers do not
treat ``None`` in an object column as missing).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class CompiledPreprocessor:
    """A fitted ColumnTransformer of (imputer + scaler) numeric and (imputer + one-hot) categorical blocks."""

    def __init__(self, transformer: Any) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        self.numeric: list[str] = []
        self.categorical: list[str] = []
        blocks = [(n, t, c) for n, t, c in transformer.transformers_ if t != "drop" and len(c)]
        if len(blocks) > 2 or getattr(transformer, "remainder", "drop") != "drop":
            raise ValueError("unsupported ColumnTransformer layout")
        self.width = 0
        for _, trans, cols in blocks:
            steps = [type(s) for _, s in trans.steps] if isinstance(trans, Pipeline) else []
            if steps == [SimpleImputer, StandardScaler]:
                imputer, scaler = trans.steps[0][1], trans.steps[1][1]
                self.numeric = list(cols)
                self.fill = np.asarray(imputer.statistics_, dtype=float)
                self.mean = np.asarray(scaler.mean_ if scaler.with_mean else np.zeros(len(cols)), dtype=float)
                self.scale = np.asarray(scaler.scale_ if scaler.with_std else np.ones(len(cols)), dtype=float)
                self.numeric_at = self.width
                self.width += len(cols)
            elif steps == [SimpleImputer, OneHotEncoder]:
                self.categorical = list(cols)
                self.categorical_at = self.width
                self.most_frequent = list(trans.steps[0][1].statistics_)
                self.onehot = self._onehot_positions(trans, list(cols))
                self.width += len(trans.get_feature_names_out())
            else:
                raise ValueError(f"unsupported block {steps}")
        self.transformer = transformer

    @staticmethod
    def _onehot_positions(block: Any, cols: list[str]) -> list[tuple[dict[str, int], int | None]]:
        """Per column: category -> output offset, and the offset for unknown values (or None)."""
        encoder = block.steps[1][1]
        base = {c: str(encoder.categories_[j][0]) for j, c in enumerate(cols)}
        positions = []
        for j, col in enumerate(cols):
            rows = [dict(base, **{col: str(cat)}) for cat in encoder.categories_[j]] + [
                dict(base, **{col: "\x00unknown"})
            ]
            out = np.asarray(block.transform(pd.DataFrame(rows, columns=cols).astype(object)))
            lo = sum(encoder._n_features_outs[:j])
            hi = lo + encoder._n_features_outs[j]
            hot = [int(np.flatnonzero(r[lo:hi])[0]) + lo if r[lo:hi].any() else None for r in out]
            mapping = {str(cat): h for cat, h in zip(encoder.categories_[j], hot[:-1], strict=True) if h is not None}
            positions.append((mapping, hot[-1]))
        return positions

    def transform_one(self, row: Mapping[str, Any]) -> np.ndarray:
        x = np.zeros(self.width)
        if self.numeric:
            values = np.array([np.nan if _missing(row.get(c)) else float(row[c]) for c in self.numeric])
            values = np.where(np.isnan(values), self.fill, values)
            x[self.numeric_at : self.numeric_at + len(values)] = (values - self.mean) / self.scale
        for j, col in enumerate(self.categorical):
            value = row.get(col)
            value = self.most_frequent[j] if _missing(value) else value
            mapping, unknown = self.onehot[j]
            hot = mapping.get(str(value), unknown)
            if hot is not None:
                x[self.categorical_at + hot] = 1.0
        return x


class CompiledForest:
    """A fitted HistGradientBoostingRegressor walked level by level for all trees at once."""

    def __init__(self, model: Any) -> None:
        trees = [predictors[0].nodes for predictors in model._predictors]
        if any(t["is_categorical"].any() for t in trees):
            raise ValueError("native categorical splits are not supported")
        size = max(len(t) for t in trees)

        def pad(field: str, dtype: Any) -> np.ndarray:
            out = np.zeros((len(trees), size), dtype=dtype)
            for i, t in enumerate(trees):
                out[i, : len(t)] = t[field]
            return out

        # Flat arrays indexed by tree * size + node: one gather per field and level.
        self.feature = pad("feature_idx", np.intp).ravel()
        self.threshold = pad("num_threshold", float).ravel()
        self.missing_left = pad("missing_go_to_left", bool).ravel()
        self.leaf = pad("is_leaf", bool).ravel()
        self.value = pad("value", float).ravel()
        offsets = (np.arange(len(trees)) * size)[:, None]
        self.left = (pad("left", np.intp) + offsets).ravel()
        self.right = (pad("right", np.intp) + offsets).ravel()
        self.start = offsets.ravel()
        self.depth = int(max(t["depth"].max() for t in trees))
        self.baseline = float(np.asarray(model._baseline_prediction).ravel()[0])

    def raw_one(self, x: np.ndarray) -> float:
        node = self.start.copy()
        for _ in range(self.depth):
            inner = ~self.leaf[node]
            if not inner.any():
                break
            at = node[inner]
            values = x[self.feature[at]]
            go_left = np.where(np.isnan(values), self.missing_left[at], values <= self.threshold[at])
            node[inner] = np.where(go_left, self.left[at], self.right[at])
        return self.baseline + float(self.value[node].sum())


class CompiledRegressor:
    """``pipeline.predict`` for one row (a dict of raw features)."""

    def __init__(self, pipeline: Any, engineer_row: Callable[[dict[str, Any]], dict[str, Any]] | None) -> None:
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.ensemble import HistGradientBoostingRegressor

        steps = dict(pipeline.steps)
        self.engineer_row = engineer_row
        self.pre = CompiledPreprocessor(steps["features"])
        regressor = steps["regressor"]
        self.inverse: Callable[[np.ndarray], np.ndarray] | None = None
        if isinstance(regressor, TransformedTargetRegressor):
            self.inverse = regressor.inverse_func
            regressor = regressor.regressor_
        if not isinstance(regressor, HistGradientBoostingRegressor):
            raise ValueError("only HistGradientBoostingRegressor is compiled")
        self.forest = CompiledForest(regressor)

    def predict_one(self, row: Mapping[str, Any]) -> float:
        features = self.engineer_row(dict(row)) if self.engineer_row else dict(row)
        raw = self.forest.raw_one(self.pre.transform_one(features))
        return float(self.inverse(np.asarray([raw]))[0]) if self.inverse else raw


def compile_regressor(
    pipeline: Any, engineer_row: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> CompiledRegressor | None:
    """Compile ``pipeline`` or return None when its shape is not supported."""
    try:
        return CompiledRegressor(pipeline, engineer_row)
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
