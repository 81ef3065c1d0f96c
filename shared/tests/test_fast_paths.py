"""The compiled scorers equal scikit-learn's predictions, survive a save/restore with numpy alone,
and a fast path that stops agreeing with its pipeline is switched off at load time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from demo_api import Double
from mlcore import fastpath
from mlcore.fastpath import text_linear
from mlcore.lifecycle import artifacts
from pydantic import BaseModel
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TEXTS = ["Win CASH now!!", "see you at lunch", "FREE prize, call 0800", "meeting at noon", "Ünïcödé café prize"] * 8
LABELS = [1, 0, 1, 0, 1] * 8
PROBES = ["win a prize", "lunch?", "", "zzz qqq", "Café   NOW", "the and of", "ÀÉÎ õü ß", "a\tb\nc  d"]


def tabular(regressor: Any) -> tuple[Pipeline, pd.DataFrame]:
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


def roundtrip(scorer: Any, tmp_path: Path) -> Any:
    """Save a scorer into a model folder's extras and restore it (numpy only)."""
    fastpath.save(scorer, tmp_path / artifacts.EXTRA_DIR, answers=[])
    restored, record = fastpath.restore(tmp_path)
    assert record["kind"] == scorer.kind
    return restored


def test_compiled_forest_equals_predict_with_missing_and_unknown_values(tmp_path: Path) -> None:
    model, frame = tabular(HistGradientBoostingRegressor(max_iter=50, random_state=0))
    probe = frame.head(60).copy()
    probe.loc[probe.index[0], "c"] = "never-seen"
    probe.loc[probe.index[1], "c"] = "w"  # an infrequent category
    probe.loc[probe.index[2], ["a", "c"]] = [np.nan, np.nan]
    compiled = fastpath.compile(model)
    assert compiled is not None and compiled.kind == "tabular_gbm"
    expected = model.predict(probe)
    for scorer in (compiled, roundtrip(compiled, tmp_path)):
        got = [scorer.predict_one(row) for row in probe.to_dict(orient="records")]
        np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_unsupported_shapes_are_not_compiled() -> None:
    model, frame = tabular(Ridge())
    assert fastpath.compile(model) is None
    extra_step, _ = tabular(HistGradientBoostingRegressor(max_iter=5))
    extra_step.steps.insert(0, ("clip", StandardScaler()))  # a step the compiler does not reproduce
    assert fastpath.compile(extra_step) is None
    assert fastpath.compile(extra_step, skip=("clip",)) is not None  # the caller applies it itself


VECTORIZERS = {
    "word": dict(sublinear_tf=True),
    "word_bigrams_stop": dict(ngram_range=(1, 2), stop_words="english", strip_accents="ascii"),
    "char": dict(analyzer="char", ngram_range=(1, 3), lowercase=False),
    "char_wb": dict(analyzer="char_wb", ngram_range=(2, 4), strip_accents="unicode"),
    "binary_no_idf_no_norm": dict(binary=True, use_idf=False, norm=None),
    "url_tokens": dict(token_pattern=r"(?u)\b\w\w+\b|https?://\S+"),
}


@pytest.mark.parametrize("name", VECTORIZERS)
def test_analyzer_equals_scikit_learn(name: str) -> None:
    vectorizer = TfidfVectorizer(**VECTORIZERS[name]).fit(TEXTS)
    spec = text_linear.analyzer_spec(vectorizer)
    assert spec is not None
    analyze, ours = vectorizer.build_analyzer(), text_linear.build_analyzer(json.loads(json.dumps(spec)))
    for text in [*PROBES, *TEXTS[:5]]:
        assert ours(text) == analyze(text), text


@pytest.mark.parametrize("name", VECTORIZERS)
@pytest.mark.parametrize("clf", [LogisticRegression(C=5.0), MultinomialNB()])
def test_compiled_text_scorer_equals_predict_proba(name: str, clf: Any, tmp_path: Path) -> None:
    union = FeatureUnion(
        [("w", TfidfVectorizer(**VECTORIZERS[name])), ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)))]
    )
    pipeline = Pipeline([("features", union), ("clf", clf)]).fit(TEXTS, LABELS)
    compiled = fastpath.compile(pipeline)
    assert compiled is not None and compiled.kind == "text_linear"
    expected = pipeline.predict_proba(PROBES)[:, 1]
    for scorer in (compiled, roundtrip(compiled, tmp_path)):
        np.testing.assert_allclose(scorer.many(PROBES), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", VECTORIZERS)
def test_text_contributions_and_intercept_are_the_logistic_regressions_logit(name: str) -> None:
    """The explanation is exact: intercept + every n-gram's contribution = decision_function, to 1e-9."""
    union = FeatureUnion(
        [("w", TfidfVectorizer(**VECTORIZERS[name])), ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)))]
    )
    pipeline = Pipeline([("features", union), ("clf", LogisticRegression(C=5.0))]).fit(TEXTS, LABELS)
    compiled = fastpath.compile(pipeline)
    for text in [*PROBES, *TEXTS[:5]]:
        intercept, parts = compiled.explain(text)
        assert {kind for kind, _, _ in parts} <= {"word", "char", "char_wb"}
        logit = intercept + sum(value for _, _, value in parts)
        assert abs(logit - pipeline.decision_function([text])[0]) <= 1e-9, text
    _, parts = compiled.explain("win a prize")
    assert any(kind == "char_wb" and gram == " pr" for kind, gram, _ in parts)  # the char block's n-grams are named


@pytest.mark.parametrize("name", [*VECTORIZERS, "char_plain"])
def test_word_shares_add_up_to_the_logit_and_follow_the_words(name: str) -> None:
    """Grouped by word, the explanation stays exact (intercept + words + unplaced = the logit) and
    lists every whitespace-separated word of the message, in order, as written."""
    settings = VECTORIZERS.get(name, {"analyzer": "char", "ngram_range": (1, 3)})
    union = FeatureUnion(
        [("w", TfidfVectorizer(**settings)), ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)))]
    )
    pipeline = Pipeline([("features", union), ("clf", LogisticRegression(C=5.0))]).fit(TEXTS, LABELS)
    compiled = fastpath.compile(pipeline)
    for text in [*PROBES, *TEXTS[:5], "  leading and trailing  ", "Win   CASH now!! win"]:
        intercept, words, unplaced = compiled.word_contributions(text)
        assert [word for word, _ in words] == text.split()
        logit = intercept + sum(share for _, share in words) + unplaced
        assert abs(logit - pipeline.decision_function([text])[0]) <= 1e-9, text
    _, words, _ = compiled.word_contributions("FREE prize now, see you at lunch")
    assert dict(words)["prize"] > 0 > dict(words)["lunch"]  # towards spam, towards ham


def test_oov_share_counts_unknown_words() -> None:
    pipeline = Pipeline([("features", TfidfVectorizer()), ("clf", LogisticRegression())]).fit(TEXTS, LABELS)
    scorer = fastpath.compile(pipeline)
    assert scorer.oov_share("win zzz") == 0.5
    assert scorer.oov_share("") == 1.0


def test_text_settings_it_cannot_reproduce_are_not_compiled() -> None:
    for vectorizer in (TfidfVectorizer(tokenizer=str.split, token_pattern=None), TfidfVectorizer(analyzer=str.split)):
        pipeline = Pipeline([("features", vectorizer), ("clf", LogisticRegression())]).fit(TEXTS, LABELS)
        assert fastpath.compile(pipeline) is None


@pytest.mark.parametrize("estimator", ["kmeans", "nearest_centroid"])
def test_compiled_clusters_equal_the_pipeline(estimator: str, tmp_path: Path) -> None:
    from sklearn.cluster import KMeans
    from sklearn.neighbors import NearestCentroid
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
    compiled = fastpath.compile(pipeline, features=["a", "b", "c"])
    assert compiled is not None and compiled.kind == "nearest_centre"
    centres = clusterer.cluster_centers_ if estimator == "kmeans" else clusterer.centroids_
    for scorer in (compiled, roundtrip(compiled, tmp_path)):
        np.testing.assert_allclose(scorer.transform(frame[["a", "b", "c"]].to_numpy()), points, atol=1e-12)
        labels, distances = scorer.assign(frame[["a", "b", "c"]].to_numpy())
        np.testing.assert_array_equal(labels, pipeline.predict(frame))
        np.testing.assert_allclose(distances, np.linalg.norm(points - centres[labels], axis=1), atol=1e-12)


def test_the_margin_to_the_runner_up_centre_splits_exactly_over_the_features() -> None:
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import FunctionTransformer, RobustScaler

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.exponential(50, 600), "b": rng.normal(3, 1, 600)})
    columns = ColumnTransformer(
        [("logged", Pipeline([("log", FunctionTransformer(np.log1p)), ("scale", RobustScaler())]), ["a"]),
         ("plain", RobustScaler(), ["b"])]
    ).fit(frame)  # fmt: skip
    kmeans = KMeans(n_clusters=3, n_init=3, random_state=0).fit(columns.transform(frame))
    compiled = fastpath.compile(Pipeline([("features", columns), ("cluster", kmeans)]), features=["a", "b"])
    points = columns.transform(frame)
    for row, point in zip(frame.to_numpy()[:50], points[:50], strict=True):
        nearest, runner, parts = compiled.margin_parts(row)
        squared = ((point - kmeans.cluster_centers_) ** 2).sum(axis=1)
        assert nearest == squared.argmin() and runner == np.argsort(squared)[1]
        assert parts.sum() == pytest.approx(squared[runner] - squared[nearest], abs=1e-9) and parts.sum() >= 0
    back = compiled.original_units(kmeans.cluster_centers_)  # centres in the input's units (a logged, b plain)
    np.testing.assert_allclose(
        columns.transform(pd.DataFrame(back, columns=["a", "b"])), kmeans.cluster_centers_, atol=1e-9
    )


def test_unsupported_clusterers_are_not_compiled() -> None:
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import RobustScaler

    frame = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7})
    for scaler, clusterer in ((RobustScaler(), GaussianMixture(2)), (StandardScaler(), GaussianMixture(2))):
        columns = ColumnTransformer([("s", scaler, ["a", "b"])]).fit(frame)
        pipeline = Pipeline([("features", columns), ("cluster", clusterer.fit(columns.transform(frame)))])
        assert fastpath.compile(pipeline, features=["a", "b"]) is None


# --- parity at load time, on a model folder ----------------------------------------------------


class Message(BaseModel):
    text: str


class TextPredictor(Double):
    """The smallest predictor of the FastModel kind: probability of the positive class."""

    def __init__(self, model: Any) -> None:
        self.model = fastpath.FastModel.of(model)

    def predict(self, items: list[Message]) -> list[dict[str, Any]]:
        texts = [item.text for item in items]
        if self.model.fast is not None:
            probas = self.model.fast.many(texts)
        else:
            probas = self.model.native.predict_proba(texts)[:, 1].tolist()
        return [{"p": p} for p in probas]


def model_folder(tmp_path: Path, pipeline: Pipeline) -> tuple[Path, TextPredictor]:
    """A model folder as training writes it: MLmodel, the input example, the checked fast path."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / artifacts.MLMODEL).write_text("flavors: {}\nmetadata: {}\n")
    example = {"columns": ["text"], "data": [[t] for t in PROBES[:5]]}
    (folder / artifacts.INPUT_EXAMPLE).write_text(json.dumps(example))
    predictor = TextPredictor(pipeline)
    answer = lambda: predictor.predict([Message(text=t) for t in PROBES[:5]])  # noqa: E731
    assert fastpath.save_checked(predictor, answer, folder / artifacts.EXTRA_DIR)
    return folder, predictor


def text_pipeline() -> Pipeline:
    return Pipeline([("features", TfidfVectorizer()), ("clf", LogisticRegression())]).fit(TEXTS, LABELS)


def test_parity_check_passes_for_a_faithful_fast_path(tmp_path: Path) -> None:
    pipeline = text_pipeline()
    folder, _ = model_folder(tmp_path, pipeline)
    scorer, _ = fastpath.restore(folder)
    served = TextPredictor(fastpath.FastModel(fast=scorer, load_native=lambda: pytest.fail("native model loaded")))
    status = fastpath.verify(served, folder, Message)
    assert status.active and status.kind == "text_linear", status
    assert "parity checked on 5" in status.reason


def test_parity_failure_falls_back_to_the_native_model(tmp_path: Path) -> None:
    pipeline = text_pipeline()
    folder, _ = model_folder(tmp_path, pipeline)
    scorer, _ = fastpath.restore(folder)
    scorer.intercept += 0.5  # the compiled copy no longer answers as the pipeline does
    served = TextPredictor(fastpath.FastModel(fast=scorer, load_native=lambda: pipeline))
    status = fastpath.verify(served, folder, Message)
    assert not status.active and "parity check failed" in status.reason
    assert served.model.fast is None
    got = [a["p"] for a in served.predict([Message(text=t) for t in PROBES])]
    np.testing.assert_allclose(got, pipeline.predict_proba(PROBES)[:, 1])


def test_a_fast_path_that_disagrees_at_training_is_not_saved(tmp_path: Path) -> None:
    pipeline = text_pipeline()
    predictor = TextPredictor(pipeline)
    predictor.model.fast.intercept -= 1.0
    answer = lambda: predictor.predict([Message(text=t) for t in PROBES])  # noqa: E731
    assert fastpath.save_checked(predictor, answer, tmp_path) == []
    assert not (tmp_path / artifacts.FASTPATH_SPEC).exists()


def test_restoring_a_fast_path_imports_no_scikit_learn(tmp_path: Path) -> None:
    folder, _ = model_folder(tmp_path, text_pipeline())
    code = (
        "import sys; from mlcore import fastpath; "
        f"s, _ = fastpath.restore({str(folder)!r}); s.proba('win cash'); "
        "print(sorted(m for m in ('sklearn', 'scipy', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
