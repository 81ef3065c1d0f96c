"""``POST /explain`` on the real API: the answer ``/predict`` gives plus its explanation, the same
validation, and for exact methods the additivity the explanation promises (base value + the listed
contributions + the rest = the explained value). A task type without an explanation would have no
route (404, and not in the document)."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pandas as pd
import pytest
from mlcore.data.stages import split_path
from mlcore.foundation.served import ServedPredictor

from sentiment_analyzer.predictor import SERVED
from sentiment_analyzer.schemas import Item

pytestmark = pytest.mark.slow
EXAMPLE = Item.model_config["json_schema_extra"]["examples"][0]


def explains(trained: dict[str, Any]) -> bool:
    predictor = SERVED.load(trained["root"] / trained["cfg"].paths.export)
    return type(predictor).explain is not ServedPredictor.explain


def items(trained: dict[str, Any], n: int) -> list[dict[str, Any]]:
    return SERVED.request_items(pd.read_parquet(split_path(trained["cfg"], trained["root"], "test")).head(n))


def test_explain_answers_as_predict_with_an_additive_explanation(server: str, trained: dict[str, Any]) -> None:
    if not explains(trained):
        assert "/explain" not in httpx.get(f"{server}/openapi.json").json()["paths"]
        assert httpx.post(f"{server}/explain", json=EXAMPLE, timeout=60).status_code == 404
        return
    sample = items(trained, 20)
    predicted = httpx.post(f"{server}/predict", json={"items": sample}, timeout=60).json()
    response = httpx.post(f"{server}/explain", json={"items": sample}, timeout=120)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == predicted["model_version"] == response.headers["x-model-version"]
    for answer, explained in zip(predicted["predictions"], body["explanations"], strict=True):
        assert {k: v for k, v in explained.items() if k != "explanation"} == answer
        why = explained["explanation"]
        assert why["method"] and why["output"] and why["terms"], why
        assert all(isinstance(term["name"], str) and math.isfinite(term["contribution"]) for term in why["terms"])
        if why["exact"]:
            total = why["base_value"] + math.fsum(term["contribution"] for term in why["terms"]) + why["rest"]
            assert abs(total - why["value"]) <= 1e-9 * max(1.0, abs(why["value"])), why
        if "answer" in why and "prediction" in answer:  # the answer the explained output stands for, unrounded
            assert abs(why["answer"] - answer["prediction"]) <= 0.005 + 1e-6, (why["answer"], answer)
    one = httpx.post(f"{server}/explain", json=sample[0], timeout=60).json()
    assert one["explanation"] == body["explanations"][0]["explanation"] and one["model_version"]


def test_explain_refuses_what_predict_refuses_naming_the_field(server: str, trained: dict[str, Any]) -> None:
    if not explains(trained):
        return  # no route (the test above)
    for body in ({**EXAMPLE, "not_a_field": 1}, {"items": []}):
        response = httpx.post(f"{server}/explain", json=body)
        assert response.status_code == 422, response.text
        predicted = httpx.post(f"{server}/predict", json=body)
        assert response.json()["detail"] == predicted.json()["detail"]
    assert (
        httpx.post(f"{server}/explain", content=b"{", headers={"content-type": "application/json"}).status_code == 422
    )


def test_explain_is_documented_where_it_is_served(server: str, trained: dict[str, Any]) -> None:
    document = httpx.get(f"{server}/openapi.json").json()
    assert ("/explain" in document["paths"]) == explains(trained)
    if explains(trained):
        operation = document["paths"]["/explain"]["post"]
        assert {"200", "422", "501"} <= set(operation["responses"])
        assert {"Explanation", "ExplanationBatch"} <= set(document["components"]["schemas"])
