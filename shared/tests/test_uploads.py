"""Multipart uploads and the page at / (in process): each file becomes an item whose upload field
holds its bytes, base64-encoded; one file answers as one item, several as a batch."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from demo_api import Double
from fastapi.testclient import TestClient
from mlcore.lifecycle.artifacts import SERVING_METADATA
from mlcore.serving.app import ServingSpec, create_app
from mlcore.serving.predictor import InputError
from pydantic import BaseModel, ConfigDict, Field


class Blob(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: str = Field(min_length=1)


class Size(BaseModel):
    size: int


class Measure(Double):
    def predict(self, items: Sequence[Blob]) -> list[dict[str, Any]]:
        sizes = [len(base64.b64decode(item.data)) for item in items]
        if 0 in sizes:
            raise InputError("data", "is empty", status=415)
        return [{"size": s} for s in sizes]


def client(tmp_path: Path, **kw: Any) -> TestClient:
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / SERVING_METADATA).write_text(json.dumps({"version": "3"}))
    spec = ServingSpec(
        model_name="blob",
        item_schema=Blob,
        answer_schema=Size,
        load=lambda _: Measure(),
        export_dir=tmp_path / "export",
        cache_dir=tmp_path / "cache",
        prefer_registry=False,
        max_batch=3,
        max_body_bytes=5000,
        **kw,
    )
    return TestClient(create_app(spec))


def test_one_file_and_a_batch_of_files(tmp_path: Path) -> None:
    with client(tmp_path, upload_field="data", page="<h1>hello</h1>") as c:
        one = c.post("/predict", files={"file": ("a.bin", b"12345", "application/octet-stream")})
        assert one.status_code == 200 and one.json() == {
            "model_version": "3",
            "size": 5,
            "request_id": one.headers["x-request-id"],
        }
        many = c.post("/predict", files=[("files", ("a", b"1", "x/y")), ("files", ("b", b"22", "x/y"))])
        assert many.json()["predictions"] == [{"size": 1}, {"size": 2}]
        assert c.get("/").text == "<h1>hello</h1>"
        assert c.post("/predict", json={"data": base64.b64encode(b"abc").decode()}).json()["size"] == 3


def test_upload_errors_name_the_field(tmp_path: Path) -> None:
    with client(tmp_path, upload_field="data") as c:
        form = {"content-type": "multipart/form-data; boundary=b"}
        none = c.post("/predict", content=b"--b--\r\n", headers=form)
        assert none.status_code == 422 and none.json()["error"].startswith("file: no file uploaded")
        other = c.post("/predict", files={"file": ("a", b"1", "x/y"), "other": ("b", b"1", "x/y")})
        assert other.status_code == 422 and other.json()["error"].startswith("other: not a field of this form")
        both = c.post("/predict", files=[("file", ("a", b"1", "x/y")), ("files", ("b", b"1", "x/y"))])
        assert both.status_code == 422 and "not both" in both.json()["error"]
        text = c.post("/predict", data={"file": "not a file"}, files={"file": ("a", b"1", "x/y")})
        assert text.status_code == 422 and "expected an uploaded file" in text.json()["error"]
        too_many = c.post("/predict", files=[("files", (str(i), b"1", "x/y")) for i in range(5)])
        assert too_many.status_code == 422 and "multipart" in too_many.json()["error"]
        big = c.post("/predict", files={"file": ("a", b"0" * 6000, "x/y")})
        assert big.status_code == 413
        empty = c.post("/predict", files={"file": ("a", b"", "x/y")})
        assert empty.status_code == 422 and empty.json()["error"] == "file: the uploaded file is empty (0 bytes)"


def test_without_an_upload_field_multipart_is_415(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        response = c.post("/predict", files={"file": ("a", b"1", "x/y")})
        assert response.status_code == 415 and "application/json" in response.json()["error"]
        assert c.get("/").status_code == 404


def test_the_document_describes_the_form_the_server_takes(tmp_path: Path) -> None:
    with client(tmp_path, upload_field="data") as c:
        bodies = c.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]["content"]
    form = bodies["multipart/form-data"]["schema"]
    assert set(form["properties"]) == {"file", "files"} and form["additionalProperties"] is False
    assert form["properties"]["files"]["maxItems"] == 3 and "application/json" in bodies
