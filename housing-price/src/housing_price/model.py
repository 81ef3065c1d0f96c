"""The estimator: engineered features, preprocessing and a regressor on log(price)."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from .features import build_preprocessor, engineer, engineered_columns


def build_model(model: DictConfig, data: DictConfig, seed: int = 42) -> Pipeline:
    if model.estimator == "hgb":
        numeric = set(data.features.numeric) | set(engineered_columns(data))
        # Constraints by feature name (the preprocessor outputs a named DataFrame).
        monotonic = {name: int(sign) for name, sign in model.get("monotonic", {}).items() if name in numeric}
        regressor = HistGradientBoostingRegressor(
            learning_rate=model.learning_rate,
            max_iter=model.max_iter,
            max_leaf_nodes=model.max_leaf_nodes,
            min_samples_leaf=model.min_samples_leaf,
            l2_regularization=model.l2_regularization,
            monotonic_cst=monotonic or None,
            random_state=seed,
        )
    elif model.estimator == "ridge":
        regressor = Ridge(alpha=model.alpha)
    else:
        raise ValueError(f"model.estimator={model.estimator!r} is not one of hgb, ridge")
    if model.log_target:
        regressor = TransformedTargetRegressor(regressor=regressor, func=np.log, inverse_func=np.exp)
    return Pipeline([
        ("engineer", FunctionTransformer(engineer)),
        ("features", build_preprocessor(data).set_output(transform="pandas")),
        ("regressor", regressor),
    ])  # fmt: skip
