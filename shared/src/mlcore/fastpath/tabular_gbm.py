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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class CompiledPreprocessor:
    """A fitted ColumnTransformer of (imputer + scaler) numeric and (imputer + one-hot) categorical blocks."""

    def __init__(self, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.width = int(spec["width"])
        self.numeric: list[str] = list(spec["numeric"])
        self.numeric_at = int(spec["numeric_at"])
        self.categorical: list[str] = list(spec["categorical"])
        self.categorical_at = int(spec["categorical_at"])
        self.most_frequent: list[Any] = list(spec["most_frequent"])
        # Per categorical column: category -> output offset, and the offset for unknown values (or None).
        self.onehot: list[tuple[dict[str, int], int | None]] = [(dict(m), u) for m, u in spec["onehot"]]
        zeros = np.zeros(len(self.numeric))
        self.fill = np.asarray(arrays.get("fill", zeros), dtype=float)
        self.mean = np.asarray(arrays.get("mean", zeros), dtype=float)
        self.scale = np.asarray(arrays.get("scale", zeros + 1), dtype=float)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        spec = {
            "width": self.width,
            "numeric": self.numeric,
            "numeric_at": self.numeric_at,
            "categorical": self.categorical,
            "categorical_at": self.categorical_at,
            "most_frequent": self.most_frequent,
            "onehot": [[m, u] for m, u in self.onehot],
        }
        return spec, {"fill": self.fill, "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_state(cls, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> CompiledPreprocessor:
        return cls(spec, arrays)

    @classmethod
    def from_transformer(cls, transformer: Any) -> CompiledPreprocessor:
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        blocks = [(n, t, c) for n, t, c in transformer.transformers_ if t != "drop" and len(c)]
        if len(blocks) > 2 or getattr(transformer, "remainder", "drop") != "drop":
            raise ValueError("unsupported ColumnTransformer layout")
        spec: dict[str, Any] = {"numeric": [], "numeric_at": 0, "categorical": [], "categorical_at": 0}
        spec |= {"most_frequent": [], "onehot": []}
        arrays: dict[str, np.ndarray] = {}
        width = 0
        for _, trans, cols in blocks:
            steps = [type(s) for _, s in trans.steps] if isinstance(trans, Pipeline) else []
            if steps == [SimpleImputer, StandardScaler]:
                imputer, scaler = trans.steps[0][1], trans.steps[1][1]
                spec |= {"numeric": [str(c) for c in cols], "numeric_at": width}
                arrays["fill"] = np.asarray(imputer.statistics_, dtype=float)
                arrays["mean"] = np.asarray(scaler.mean_ if scaler.with_mean else np.zeros(len(cols)), dtype=float)
                arrays["scale"] = np.asarray(scaler.scale_ if scaler.with_std else np.ones(len(cols)), dtype=float)
                width += len(cols)
            elif steps == [SimpleImputer, OneHotEncoder]:
                spec |= {"categorical": [str(c) for c in cols], "categorical_at": width}
                spec["most_frequent"] = [str(v) for v in trans.steps[0][1].statistics_]
                spec["onehot"] = cls._onehot_positions(trans, list(cols))
                width += len(trans.get_feature_names_out())
            else:
                raise ValueError(f"unsupported block {steps}")
        return cls({**spec, "width": width}, arrays)

    @staticmethod
    def _onehot_positions(block: Any, cols: list[str]) -> list[tuple[dict[str, int], int | None]]:
        """Per column: category -> output offset, and the offset for unknown values (or None)."""
        import pandas as pd

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

    FIELDS = ("feature", "threshold", "missing_left", "leaf", "value", "left", "right", "start")

    def __init__(self, arrays: Mapping[str, np.ndarray], depth: int, baseline: float) -> None:
        for name in self.FIELDS:
            setattr(self, name, np.asarray(arrays[name]))
        self.depth, self.baseline = int(depth), float(baseline)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"depth": self.depth, "baseline": self.baseline}, {n: getattr(self, n) for n in self.FIELDS}

    @classmethod
    def from_state(cls, spec: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> CompiledForest:
        return cls(arrays, spec["depth"], spec["baseline"])

    @classmethod
    def from_model(cls, model: Any) -> CompiledForest:
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
        offsets = (np.arange(len(trees)) * size)[:, None]
        arrays = {
            "feature": pad("feature_idx", np.intp).ravel(),
            "threshold": pad("num_threshold", float).ravel(),
            "missing_left": pad("missing_go_to_left", bool).ravel(),
            "leaf": pad("is_leaf", bool).ravel(),
            "value": pad("value", float).ravel(),
            "left": (pad("left", np.intp) + offsets).ravel(),
            "right": (pad("right", np.intp) + offsets).ravel(),
            "start": offsets.ravel(),
        }
        depth = int(max(t["depth"].max() for t in trees))
        return cls(arrays, depth, float(np.asarray(model._baseline_prediction).ravel()[0]))

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


INVERSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"expm1": np.expm1, "exp": np.exp}


class CompiledRegressor:
    """``pipeline.predict`` for one row (a dict of the pipeline's input columns)."""

    kind: ClassVar[str] = "tabular_gbm"

    def __init__(self, pre: CompiledPreprocessor, forest: CompiledForest, inverse: str | None) -> None:
        self.pre, self.forest, self.inverse = pre, forest, inverse

    @classmethod
    def from_pipeline(cls, pipeline: Any, skip: Sequence[str] = ()) -> CompiledRegressor:
        """``skip``: names of row-wise steps before ``features`` that the caller applies itself."""
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.ensemble import HistGradientBoostingRegressor

        steps = dict(pipeline.steps)
        if set(steps) - {"features", "regressor", *skip}:
            raise ValueError(f"unsupported steps {sorted(set(steps) - {'features', 'regressor', *skip})}")
        regressor, inverse = steps["regressor"], None
        if isinstance(regressor, TransformedTargetRegressor):
            names = {id(f): name for name, f in INVERSES.items()}
            if id(regressor.inverse_func) not in names:
                raise ValueError("only expm1 / exp target transforms are compiled")
            inverse, regressor = names[id(regressor.inverse_func)], regressor.regressor_
        if not isinstance(regressor, HistGradientBoostingRegressor):
            raise ValueError("only HistGradientBoostingRegressor is compiled")
        return cls(
            CompiledPreprocessor.from_transformer(steps["features"]), CompiledForest.from_model(regressor), inverse
        )

    def predict_one(self, row: Mapping[str, Any]) -> float:
        raw = self.forest.raw_one(self.pre.transform_one(row))
        return float(INVERSES[self.inverse](np.asarray([raw]))[0]) if self.inverse else raw

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        pre_spec, pre_arrays = self.pre.state()
        forest_spec, forest_arrays = self.forest.state()
        spec = {"inverse": self.inverse, "preprocessor": pre_spec, "forest": forest_spec}
        return spec, {**{f"pre_{k}": v for k, v in pre_arrays.items()}, **forest_arrays}

    @classmethod
    def from_state(cls, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> CompiledRegressor:
        pre_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("pre_")}
        forest_arrays = {k: v for k, v in arrays.items() if not k.startswith("pre_")}
        return cls(
            CompiledPreprocessor.from_state(spec["preprocessor"], pre_arrays),
            CompiledForest.from_state(spec["forest"], forest_arrays),
            spec["inverse"],
        )


def compile(pipeline: Any, skip: Sequence[str] = (), **_: Any) -> CompiledRegressor | None:  # noqa: A001
    """Compile ``pipeline`` (its ``skip`` steps left to the caller) or return None when its shape is not supported."""
    try:
        return CompiledRegressor.from_pipeline(pipeline, skip)
    except (ValueError, KeyError, AttributeError, TypeError):
        return None


from_state = CompiledRegressor.from_state  # what mlcore.fastpath.restore calls
