"""The Open Inference Protocol routes of mlcore's app, in process (the projects' tests drive them
with tritonclient on a real server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from demo_api import export, make_spec
from fastapi.testclient import TestClient
from mlcore.serving.app import create_app
from mlcore.serving.predlog import read_window


@pytest.fixture
def client(tmp_path: Path):
    export(tmp_path / "export", "3", 2.0)
    with TestClient(create_app(make_spec(tmp_path)), raise_server_exceptions=False) as c:
        yield c


def tensor(name: str = "x", data: list[Any] | None = None, datatype: str = "FP32", shape: list[int] | None = None):
    data = [1, 2.5, 3] if data is None else data
    return {"name": name, "shape": shape or [len(data)], "datatype": datatype, "data": data}


def test_health_server_and_model_metadata(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    model = client.get("/v2/models/demo").json()
    assert model["versions"] == ["3"] and model["inputs"][0] | {"name": "x", "datatype": "FP64"} == model["inputs"][0]
    assert client.get("/v2/models/demo/versions/3/ready").json() == {"ready": True}
    assert client.get("/v2/models/demo/versions/4/ready").status_code == 404
    assert client.get("/v2/models/other").status_code == 404


def test_infer_scores_through_the_predict_path(client: TestClient, tmp_path: Path) -> None:
    nested = tensor(data=[[1], [2.5], [3]], shape=[3, 1])  # [N, 1] is read as N rows too
    response = client.post("/v2/models/demo/versions/3/infer", json={"id": "a1", "inputs": [nested]})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model_name": "demo",
        "model_version": "3",
        "id": "a1",
        "outputs": [{"name": "y", "shape": [3], "datatype": "FP64", "data": [2.0, 5.0, 6.0]}],
    }
    assert response.headers["x-model-version"] == "3"
    client.app.state.serving.predlog.close()  # flush: the rows are logged like /predict's
    assert [row["x"] for row in read_window(tmp_path / "log.db")["input"]] == [1.0, 2.5, 3.0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": [tensor("z")]}, "'z' is not an input"),
        ({"inputs": [tensor(shape=[2])]}, "needs 2 values, got 3"),
        ({"inputs": [tensor(data=["1"], datatype="BYTES")]}, "expected a number tensor"),
        ({"inputs": [tensor(data=[500])]}, "x: Input should be less than or equal to 100"),
        ({"inputs": [tensor(), tensor()]}, "given twice"),
        ({"inputs": []}, "inputs"),
        ({"inputs": [tensor()], "outputs": [{"name": "nope"}]}, "'nope'"),
        ({"inputs": [tensor(data=[1] * 5)]}, "at most 4 (serve.max_batch)"),
        ({"inputs": [tensor(data=[[1], [2, 3]], shape=[2, 1])]}, "needs 2 values, got 3"),
    ],
    ids=[
        "unknown-input",
        "shape-mismatch",
        "wrong-datatype",
        "out-of-range",
        "twice",
        "none",
        "unknown-output",
        "over-max-batch",
        "ragged",
    ],
)
def test_bad_requests_are_400_saying_why(client: TestClient, body: dict[str, Any], message: str) -> None:
    response = client.post("/v2/models/demo/infer", json=body)
    assert response.status_code == 400 and message in response.json()["error"], response.text


def test_unknown_model_or_version_is_404_and_no_model_503(client: TestClient, tmp_path: Path) -> None:
    assert client.post("/v2/models/other/infer", json={"inputs": [tensor()]}).status_code == 404
    assert client.post("/v2/models/demo/versions/9/infer", json={"inputs": [tensor()]}).status_code == 404
    with TestClient(create_app(make_spec(tmp_path / "empty"))) as empty:
        assert empty.get("/v2/health/ready").status_code == 400
        assert empty.post("/v2/models/demo/infer", json={"inputs": [tensor()]}).status_code == 503


def test_whole_number_inputs_refuse_fractions_and_datatypes_follow_the_schema() -> None:
    from mlcore.serving.open_inference import (
        BadTensors,
        InferenceRequest,
        RequestInput,
        TensorMetadata,
        input_tensors,
        items_from_tensors,
    )
    from pydantic import BaseModel

    class Item(BaseModel):
        n: int
        x: float | None = None
        tags: list[str] = []
        name: str

    assert [(t.name, t.datatype, t.optional, t.json_encoded) for t in input_tensors(Item)] == [
        ("n", "INT64", False, False),
        ("x", "FP64", True, False),
        ("tags", "BYTES", True, True),
        ("name", "BYTES", False, False),
    ]
    meta = [TensorMetadata(name="n", datatype="INT64", shape=[-1])]

    def request(datatype: str, data: list[Any]) -> InferenceRequest:
        return InferenceRequest(inputs=[RequestInput(name="n", shape=[len(data)], datatype=datatype, data=data)])

    assert items_from_tensors(request("INT32", [2, 3]), meta, 10) == [{"n": 2}, {"n": 3}]
    with pytest.raises(BadTensors, match="whole numbers"):
        items_from_tensors(request("INT64", [1.5]), meta, 10)
    with pytest.raises(BadTensors, match="whole numbers"):
        items_from_tensors(request("FP64", [2.0]), meta, 10)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"t": Infinity}}',
            "Infinity is not a number JSON allows",
        ),
        ('{"inputs": [{"name": "x", "shape": [1.5], "datatype": "FP32", "data": [1]}]}', "shape"),
        ('{"inputs": [{"name": "x", "shape": [true], "datatype": "FP32", "data": [1]}]}', "shape"),
        (
            '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [NaN]}]}',
            "NaN is not a number JSON allows",
        ),
        (
            '{"inputs": [{"name": "x", "name": "y", "shape": [1], "datatype": "FP32", "data": [1]}]}',
            "name: given twice",
        ),
    ],
)
def test_infer_reads_json_strictly(client: TestClient, body: str, message: str) -> None:
    response = client.post("/v2/models/demo/infer", content=body.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 400 and message in response.json()["error"], response.text


@pytest.mark.parametrize(("value", "kind"), [(1, "a number"), (None, "null"), ({"a": 1}, "an object")])
def test_a_bytes_tensor_of_other_values_is_named_for_what_it_holds(value: Any, kind: str) -> None:
    from mlcore.serving.open_inference import BadTensors, InferenceRequest, TensorMetadata, items_from_tensors

    meta = [TensorMetadata(name="name", datatype="BYTES", shape=[-1])]
    given = InferenceRequest.model_validate(
        {"inputs": [{"name": "name", "shape": [1], "datatype": "BYTES", "data": [value]}]}
    )
    with pytest.raises(BadTensors, match=f"BYTES values must be strings, got {kind}"):
        items_from_tensors(given, meta, 10)
