"""The Open Inference Protocol (KServe v2) on the real API, driven by a third-party client
(tritonclient's HTTP client): the same answers as /predict, tensors named as the README says."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest

from image_classifier.schemas import Item

pytestmark = pytest.mark.slow
EXAMPLE = Item.model_config["json_schema_extra"]["examples"][0]
NUMPY = {"FP64": np.float64, "INT64": np.int64, "BOOL": np.bool_, "BYTES": np.object_}


@pytest.fixture(scope="module")
def client(server: str) -> Any:
    import tritonclient.http as triton

    with triton.InferenceServerClient(url=server.removeprefix("http://"), connection_timeout=30) as connection:
        yield connection


def infer_inputs(metadata: dict[str, Any], items: list[dict[str, Any]]) -> list[Any]:
    """One tensor per input the items give, typed as the model's metadata says."""
    import tritonclient.http as triton

    tensors = []
    for spec in metadata["inputs"]:
        if spec["name"] not in items[0]:
            assert spec["optional"], spec
            continue
        values = [item[spec["name"]] for item in items]
        if spec["json_encoded"]:
            values = [json.dumps(v) for v in values]
        tensor = triton.InferInput(spec["name"], [len(items)], spec["datatype"])
        tensor.set_data_from_numpy(np.array(values, dtype=NUMPY[spec["datatype"]]), binary_data=False)
        tensors.append(tensor)
    return tensors


def plain(value: Any) -> Any:
    """A value of a tensor as JSON has it: text for bytes, Python numbers for NumPy scalars."""
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if isinstance(value, np.generic) else value


def decoded(spec: dict[str, Any], values: np.ndarray) -> list[Any]:
    out = [plain(v) for v in values.reshape(-1)]
    return [json.loads(v) for v in out] if spec["json_encoded"] else out


def test_health_and_metadata_name_the_model_and_its_tensors(client: Any, server: str, trained: dict[str, Any]) -> None:
    name, version = trained["cfg"].project.model_name, trained["decision"].version
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(name) and client.is_model_ready(name, version)
    assert not client.is_model_ready(name, "no-such-version")
    metadata = client.get_model_metadata(name)
    assert metadata["versions"] == [version]
    assert {t["name"] for t in metadata["inputs"]} == set(Item.model_fields)
    one = httpx.post(f"{server}/predict", json=EXAMPLE).json()
    assert {t["name"] for t in metadata["outputs"]} == set(one) - {"model_version", "request_id"}


def test_infer_gives_the_same_answers_as_predict(client: Any, server: str, trained: dict[str, Any]) -> None:
    import tritonclient.http as triton

    name = trained["cfg"].project.model_name
    metadata = client.get_model_metadata(name)
    items = [EXAMPLE, EXAMPLE]
    outputs = [triton.InferRequestedOutput(t["name"], binary_data=False) for t in metadata["outputs"]]
    result = client.infer(name, infer_inputs(metadata, items), outputs=outputs, request_id="r-1")
    response = result.get_response()
    assert response["id"] == "r-1" and response["model_version"] == trained["decision"].version
    expected = httpx.post(f"{server}/predict", json={"items": items}).json()["predictions"]
    for spec in metadata["outputs"]:
        got = decoded(spec, result.as_numpy(spec["name"]))
        want = [answer[spec["name"]] for answer in expected]
        if spec["datatype"] == "FP64":
            assert np.allclose(got, want, rtol=1e-6), spec["name"]
        else:
            assert got == want, spec["name"]


def test_bad_tensors_are_400_naming_the_input(client: Any, trained: dict[str, Any]) -> None:
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    name = trained["cfg"].project.model_name
    stray = triton.InferInput("no_such_input", [1], "FP64")
    stray.set_data_from_numpy(np.array([1.0]), binary_data=False)
    with pytest.raises(InferenceServerException, match="no_such_input"):
        client.infer(name, [stray])
    with pytest.raises(InferenceServerException, match="not served"):
        client.infer("no-such-model", [stray])
