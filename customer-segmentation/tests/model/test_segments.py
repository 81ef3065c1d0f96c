"""Choosing k, segment profiles and the report: what the train and profile stages leave behind."""

from __future__ import annotations

import json
from typing import Any

import httpx
import mlflow
import pandas as pd
import pytest
from mlcore.lifecycle.artifacts import read_extra
from mlcore.tasks.clustering import SEGMENTS_FILE

from customer_segmentation.schemas import Item

pytestmark = pytest.mark.slow


def test_k_curve_covers_the_sweep_and_each_k_is_a_child_run(trained: dict[str, Any]) -> None:
    root, cfg = trained["root"], trained["cfg"]
    curve = pd.read_csv(root / cfg.paths.plots / "k_selection.csv")
    rules = cfg.train.k_selection
    if cfg.model.n_clusters is not None:
        assert curve["k"].tolist() == [cfg.model.n_clusters]
        return
    assert curve["k"].tolist() == list(range(rules.k_min, rules.k_max + 1))
    assert trained["run_info"]["n_clusters"] >= rules.choose_min
    run_id = trained["run_info"]["run_id"]
    children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{run_id}'", output_format="list")
    assert sorted(int(r.data.params["n_clusters"]) for r in children) == curve["k"].tolist()
    assert all("silhouette" in r.data.metrics for r in children)


def test_profiles_cover_every_row_and_ship_with_the_model(trained: dict[str, Any]) -> None:
    root, cfg = trained["root"], trained["cfg"]
    report = json.loads((root / cfg.paths.reports / "segments.json").read_text())["segments"]
    shipped = read_extra(root / cfg.paths.export, SEGMENTS_FILE)["segments"]
    assert len(report) == len(shipped) == trained["run_info"]["n_clusters"]
    assert [s["name"] for s in report] == [s["name"] for s in shipped]
    assert sum(s["share"] for s in report) == pytest.approx(1.0)
    rows = sum(len(pd.read_parquet(root / cfg.paths.processed / f"{n}.parquet")) for n in ("train", "val", "test"))
    assert sum(s["size"] for s in report) == rows
    for column in cfg.data.features.profile:
        assert all(f"mean_{column}" in s for s in report)


def test_html_report_names_every_segment_and_is_logged(trained: dict[str, Any]) -> None:
    root, cfg = trained["root"], trained["cfg"]
    page = (root / cfg.paths.reports / "segments.html").read_text()
    segments = json.loads((root / cfg.paths.reports / "segments.json").read_text())["segments"]
    assert all(s["name"] in page for s in segments)
    assert page.count("data:image/png;base64,") >= 3
    assert f"k = {trained['run_info']['n_clusters']}" in page and "class=k-choice" in page  # how k was chosen
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(trained["run_info"]["run_id"], "segments")}
    assert {"segments/segments.html", "segments/segments.json"} <= artifacts


def test_request_path_assigns_like_the_pipeline(trained: dict[str, Any]) -> None:
    import numpy as np

    from customer_segmentation.predictor import load_predictor

    root, cfg = trained["root"], trained["cfg"]
    predictor = load_predictor(root / cfg.paths.export)
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet")
    labels, distances = predictor.assign(test)
    np.testing.assert_array_equal(labels, predictor.pipeline.predict(test[predictor.features]))
    points = predictor.preprocess.transform(test[predictor.features])
    np.testing.assert_allclose(distances, np.linalg.norm(points - predictor.centres[labels], axis=1), atol=1e-9)
    if cfg.model.estimator in ("kmeans", "agglomerative"):
        assert predictor.compiled is not None  # the numpy fast path serves these models


def test_segments_endpoint_lists_every_profile_and_names_the_answer(server: str, trained: dict[str, Any]) -> None:
    segments = httpx.get(f"{server}/segments").json()["segments"]
    assert len(segments) == trained["run_info"]["n_clusters"]
    assert sum(s["share"] for s in segments) == pytest.approx(1.0, abs=1e-3)
    example = Item.model_config["json_schema_extra"]["examples"][0]
    answer = httpx.post(f"{server}/predict", json=example).json()
    assert answer["segment_name"] == {s["segment"]: s["name"] for s in segments}[answer["segment"]]
