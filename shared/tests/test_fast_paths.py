"""The compiled single-row scorers equal scikit-learn's predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlcore.fastpath.tabular_gbm import compile_regressor
from mlcore.fastpath.text_linear import compile_pipeline, oov_share
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def tabular(regressor) -> tuple[Pipeline, pd.DataFrame]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=400),
            "b": rng.uniform(0, 10, 400),
            "c": rng.choice(list("xyzw"), 400, p=[0.5, 0.3, 0.19, 0.01]),
        }
    )
    frame.loc[::17, "a"] = np.nan
    y = np.exp(1 + frame["a"].fillna(0) + 0.1 * frame["b"] + (frame["c"] == "x"))
    pre = ColumnTransformer(
        [
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), ["a", "b"]),
            ("categorical", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                                      ("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10, sparse_output=False))]), ["c"]),
        ]
    )  # fmt: skip
    model = Pipeline(
        [
            ("features", pre),
            ("regressor", TransformedTargetRegressor(regressor=regressor, func=np.log, inverse_func=np.exp)),
        ]
    )
    return model.fit(frame, y), frame


def test_compiled_forest_equals_predict_with_missing_and_unknown_values() -> None:
    model, frame = tabular(HistGradientBoostingRegressor(max_iter=50, random_state=0))
    probe = frame.head(60).copy()
    probe.loc[probe.index[0], "c"] = "never-seen"
    probe.loc[probe.index[1], "c"] = "w"  # an infrequent category
    probe.loc[probe.index[2], ["a", "c"]] = [np.nan, np.nan]
    compiled = compile_regressor(model)
    assert compiled is not None
    got = [compiled.predict_one(row) for row in probe.to_dict(orient="records")]
    np.testing.assert_allclose(got, model.predict(probe), rtol=1e-10)


def test_unsupported_regressor_is_not_compiled() -> None:
    model, _ = tabular(Ridge())
    assert compile_regressor(model) is None


def test_compiled_text_scorer_equals_predict_proba() -> None:
    texts = ["win cash now", "see you at lunch", "free prize call", "meeting at noon"] * 10
    labels = [1, 0, 1, 0] * 10
    union = FeatureUnion(
        [("w", TfidfVectorizer(sublinear_tf=True)), ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)))]
    )
    pipeline = Pipeline([("features", union), ("clf", LogisticRegression())]).fit(texts, labels)
    scorer = compile_pipeline(pipeline)
    probes = ["win a prize", "lunch?", "", "zzz qqq"]
    np.testing.assert_allclose(scorer.many(probes), pipeline.predict_proba(probes)[:, 1], rtol=1e-10)
    assert oov_share(scorer, "win zzz") == 0.5


@pytest.mark.parametrize("estimator", ["kmeans", "nearest_centroid"])
def test_compiled_clusters_equal_the_pipeline(estimator: str) -> None:
    from mlcore.fastpath.nearest_centre import compile_pipeline
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, RobustScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.exponential(50, 800), "b": rng.normal(3, 1, 800), "c": rng.lognormal(2, 1, 800)})
    columns = ColumnTransformer(
        [
            ("plain", RobustScaler(), ["b"]),
            ("logged", Pipeline([("log", FunctionTransformer(np.log1p)), ("scale", RobustScaler())]), ["c", "a"]),
        ]
    ).fit(frame)
    points = columns.transform(frame)
    if estimator == "kmeans":
        clusterer = KMeans(n_clusters=4, n_init=3, random_state=0).fit(points)
    else:
        clusterer = NearestCentroid().fit(points, (points[:, 0] > 0).astype(int) + 2 * (points[:, 1] > 0))
    pipeline = Pipeline([("features", columns), ("cluster", clusterer)])
    compiled = compile_pipeline(pipeline, ["a", "b", "c"])
    assert compiled is not None
    np.testing.assert_allclose(compiled.transform(frame[["a", "b", "c"]].to_numpy()), points, atol=1e-12)
    labels, distances = compiled.assign(frame[["a", "b", "c"]].to_numpy())
    np.testing.assert_array_equal(labels, pipeline.predict(frame))
    centres = clusterer.cluster_centers_ if estimator == "kmeans" else clusterer.centroids_
    np.testing.assert_allclose(distances, np.linalg.norm(points - centres[labels], axis=1), atol=1e-12)


def test_unsupported_clusterers_are_not_compiled() -> None:
    from mlcore.fastpath.nearest_centre import compile_pipeline
    from sklearn.compose import ColumnTransformer
    from sklearn.mixture import GaussianMixture
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import RobustScaler, StandardScaler

    frame = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7})
    for scaler, clusterer in ((RobustScaler(), GaussianMixture(2)), (StandardScaler(), GaussianMixture(2))):
        columns = ColumnTransformer([("s", scaler, ["a", "b"])]).fit(frame)
        pipeline = Pipeline([("features", columns), ("cluster", clusterer.fit(columns.transform(frame)))])
        assert compile_pipeline(pipeline, ["a", "b"]) is None
