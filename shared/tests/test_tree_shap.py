"""mlcore.tasks.tree_shap: exact SHAP values of a tabular tree pipeline, summed by input field,
against the pipeline's own predictions (a pipeline fitted in the test, as the housing project's)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from mlcore.fastpath import tabular_gbm
from mlcore.tasks import tree_shap
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

NUMERIC = ["area", "rooms", "age"]
CATEGORICAL = ["town", "town_kind"]  # one name the prefix of another: the groups must not mix them


def engineer(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(area_per_room=frame["area"] / frame["rooms"].clip(lower=1))


def houses(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "area": rng.uniform(40, 300, n),
        "rooms": rng.integers(1, 8, n).astype(float),
        "age": rng.uniform(0, 100, n),
        "town": rng.choice(["north", "south", "east", "west", "rare"], n, p=[0.3, 0.3, 0.2, 0.19, 0.01]),
        "town_kind": rng.choice(["city", "village"], n),
    })  # fmt: skip
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    frame.loc[rng.random(n) < 0.05, "town"] = np.nan
    return frame


def pipeline(regressor: object, seed: int = 0) -> tuple[Pipeline, pd.DataFrame]:
    frame = houses(600, seed)
    price = 1000 * frame["area"] * np.where(frame["town"] == "north", 1.4, 1.0) * (1 - frame["age"].fillna(50) / 300)
    features = ColumnTransformer(
        [
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
             [*NUMERIC, "area_per_room"]),
            ("categorical", Pipeline([
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False)),
            ]), CATEGORICAL),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")  # fmt: skip
    model = Pipeline([("engineer", FunctionTransformer(engineer)), ("features", features), ("regressor", regressor)])
    return model.fit(frame, price), frame


def log_hgb() -> TransformedTargetRegressor:
    hgb = HistGradientBoostingRegressor(max_iter=80, max_leaf_nodes=15, random_state=0)
    return TransformedTargetRegressor(regressor=hgb, func=np.log, inverse_func=np.exp)


def test_base_plus_field_values_is_the_prediction_in_dollars() -> None:
    model, _ = pipeline(log_hgb())
    explainer = tree_shap.TreeShap.of(model)
    new = houses(200, seed=1)
    matrix, fields = explainer.inputs(new)
    attributions = explainer.explain(matrix)
    predicted = model.predict(new)
    for attribution, price in zip(attributions, predicted, strict=True):
        total = attribution.base_value + math.fsum(attribution.fields.values())
        assert abs(total - attribution.value) <= 1e-12 * abs(attribution.value)
        assert abs(explainer.answer(attribution.value) - price) <= 1e-6, (attribution.value, price)
    assert {"area_per_room", "town", "town_kind"} <= set(fields[0])  # engineered fields are named with values


def test_fields_are_their_columns_summed_exactly_once() -> None:
    model, _ = pipeline(log_hgb())
    explainer = tree_shap.TreeShap.of(model)
    columns = list(model[:-1].transform(houses(5, 2)).columns)
    grouped = sorted(position for positions in explainer.groups.values() for position in positions)
    assert grouped == list(range(len(columns)))
    assert set(explainer.groups) == {*NUMERIC, "area_per_room", *CATEGORICAL}
    for field in CATEGORICAL:
        names = [columns[i] for i in explainer.groups[field]]
        encoder = model.named_steps["features"].named_transformers_["categorical"].named_steps["encode"]
        kept = {f"{field}_{category}" for category in encoder.categories_[CATEGORICAL.index(field)]}
        assert set(names) <= kept | {f"{field}_infrequent_sklearn"} and names, names
    assert "town_infrequent_sklearn" in [columns[i] for i in explainer.groups["town"]]  # "rare" is infrequent
    matrix, _ = explainer.inputs(houses(30, 3))
    raw = explainer.explainer.shap_values(matrix)
    for attribution, row in zip(explainer.explain(matrix), raw, strict=True):
        for field, positions in explainer.groups.items():
            assert attribution.fields[field] == pytest.approx(row[positions].sum(), abs=1e-12)


def test_the_compiled_preprocessing_gives_the_same_input() -> None:
    model, _ = pipeline(log_hgb())
    explainer = tree_shap.TreeShap.of(model)
    compiled = tabular_gbm.compile(model, skip=("engineer",))
    assert compiled is not None
    new = houses(50, seed=4)
    matrix, fields = explainer.inputs(new)
    fast = np.stack([compiled.pre.transform_one(row) for row in fields])
    np.testing.assert_array_equal(fast, matrix)


def test_explained_lists_the_largest_fields_with_factors_and_an_exact_rest() -> None:
    model, _ = pipeline(log_hgb())
    explainer = tree_shap.TreeShap.of(model)
    matrix, fields = explainer.inputs(houses(10, seed=5))
    answers = [{"prediction": float(p)} for p in model.predict(houses(10, seed=5))]
    for out in tree_shap.explained(explainer, matrix, fields, answers, unit="price", top=3):
        why = out["explanation"]
        sizes = [abs(term["contribution"]) for term in why["terms"]]
        assert len(sizes) == 3 and sizes == sorted(sizes, reverse=True)
        total = why["base_value"] + math.fsum(term["contribution"] for term in why["terms"]) + why["rest"]
        assert total == pytest.approx(why["value"], abs=1e-12)
        assert why["answer"] == pytest.approx(out["prediction"], abs=1e-6)
        for term in why["terms"]:
            assert term["factor"] == pytest.approx(math.exp(term["contribution"]))
        assert why["exact"] and why["output"].startswith("log of the price")


def test_a_model_that_is_not_a_tree_ensemble_is_refused_with_the_reason() -> None:
    model, _ = pipeline(Ridge())
    with pytest.raises(NotImplementedError, match="Ridge"):
        tree_shap.TreeShap.of(model)
    expm1 = TransformedTargetRegressor(
        regressor=HistGradientBoostingRegressor(max_iter=5), func=np.sqrt, inverse_func=np.square
    )
    with pytest.raises(NotImplementedError, match="square"):
        tree_shap.TreeShap.of(pipeline(expm1)[0])
