"""The app factory, in process (the projects' tests run it under uvicorn on loopback)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from demo_api import Answer, Item, Scaler, export, make_spec
from fastapi.testclient import TestClient
from mlcore.foundation.waiting import wait_until
from mlcore.serving.app import ServingSpec, create_app
from mlcore.serving.predlog import read_window


def make_client(tmp_path: Path, **kw: Any) -> TestClient:
    return TestClient(create_app(make_spec(tmp_path, **kw)), raise_server_exceptions=False)


@pytest.fixture
def client(tmp_path: Path):
    export(tmp_path / "export", "1", 2.0)
    with make_client(tmp_path) as c:
        yield c


def test_single_and_batch_name_the_version(client: TestClient) -> None:
    one = client.post("/predict", json={"x": 3})
    rid = one.json().pop("request_id")
    assert one.json() == {"model_version": "1", "y": 6.0, "request_id": rid} and one.headers["x-model-version"] == "1"
    assert one.headers["x-request-id"] == rid and len(rid) == 32
    batch = client.post("/predict", json={"items": [{"x": 1}, {"x": 2}]}, headers={"x-request-id": "order-17"})
    assert batch.json() == {"model_version": "1", "request_id": "order-17", "predictions": [{"y": 2.0}, {"y": 4.0}]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"x": -1}, "x"),
        ({}, "x"),
        ({"x": 1, "z": 2}, "z"),
        ({"items": [{"x": 1}] * 5}, "items"),
        ({"items": [{"x": "a"}]}, "items.0.x"),
    ],
)
def test_bad_input_is_422_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert response.json()["error"].startswith(field) or f"{field}:" in response.json()["error"]


def test_invalid_json_and_large_bodies(client: TestClient) -> None:
    assert client.post("/predict", content=b"[1,").status_code == 422
    assert client.post("/predict", content=b"1" * 3000).status_code == 413
    assert client.post("/predict", json=[1, 2]).status_code == 422
    assert client.get("/health").status_code == 200


def test_no_model_is_503_not_a_crash(tmp_path: Path) -> None:
    with make_client(tmp_path) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/ready").status_code == 503
        response = c.post("/predict", json={"x": 1})
        assert response.status_code == 503 and "no model loaded" in response.json()["error"]


def test_reload_switches_model(client: TestClient, tmp_path: Path) -> None:
    export(tmp_path / "export", "2", 10.0)
    reloaded = client.post("/admin/reload")
    assert reloaded.json() == {"status": "reloaded", "previous_version": "1", "model_version": "2"}
    answer = client.post("/predict", json={"x": 3}).json()
    assert (answer["model_version"], answer["y"]) == ("2", 30.0)
    assert client.get("/metadata").json()["run_id"] == "r2"


def test_admin_token(tmp_path: Path) -> None:
    export(tmp_path / "export", "1", 1.0)
    with make_client(tmp_path, admin_token="s3cret") as c:
        assert c.post("/admin/reload").status_code == 403
        assert c.post("/admin/reload", headers={"x-admin-token": "s3cret"}).status_code == 200


def test_metrics_include_drift_and_counts(client: TestClient, tmp_path: Path) -> None:
    client.post("/predict", json={"x": 1})
    (tmp_path / "drift.json").write_text(
        json.dumps({"drift_detected": True, "features": {"x": {"psi": 0.5, "ks": 0.3}}})
    )
    text = client.get("/metrics").text
    assert 'drift_score{feature="x",stat="psi"} 0.5' in text
    assert "drift_detected 1.0" in text
    assert 'model_version_info{model_name="demo",version="1"} 1.0' in text


def test_prediction_log_gets_every_item(tmp_path: Path) -> None:
    export(tmp_path / "export", "1", 2.0)
    with make_client(tmp_path) as c:
        c.post("/predict", json={"items": [{"x": 1}, {"x": 2}]})
    wait_until(lambda: len(read_window(tmp_path / "log.db")) >= 2, "2 row(s) in the prediction log")
    window = read_window(tmp_path / "log.db")
    assert window["input"].tolist() == [{"x": 1.0}, {"x": 2.0}]
    assert window["output"].tolist() == [{"y": 2.0}, {"y": 4.0}]


class Signals(Scaler):
    """A predictor that logs a signal of each item instead of the item."""

    def log_inputs(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        return [{"x_squared": item.x**2} for item in items]


@pytest.mark.parametrize(("raw", "expected"), [(False, [{"x_squared": 9.0}]), (True, [{"x": 3.0, "x_squared": 9.0}])])
def test_prediction_log_keeps_signals_and_the_item_only_when_asked(
    tmp_path: Path, raw: bool, expected: list[dict[str, float]]
) -> None:
    export(tmp_path / "export", "1", 2.0)
    spec = ServingSpec(
        model_name="demo",
        item_schema=Item,
        answer_schema=Answer,
        load=lambda path: Signals(float((path / "factor.txt").read_text())),
        export_dir=tmp_path / "export",
        cache_dir=tmp_path / "cache",
        prefer_registry=False,
        prediction_log=tmp_path / "log.db",
        log_raw_inputs=raw,
    )
    with TestClient(create_app(spec)) as c:
        assert c.post("/predict", json={"x": 3}).status_code == 200
    wait_until(lambda: len(read_window(tmp_path / "log.db")) >= 1, "1 row(s) in the prediction log")
    assert read_window(tmp_path / "log.db")["input"].tolist() == expected


class Picky(Scaler):
    """Refuses x == 13 after validation, as a predictor does for input the schema cannot express."""

    def predict(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        from mlcore.serving.app import InputError

        for i, item in enumerate(items):
            if item.x == 13:
                raise InputError(f"items.{i}.x" if len(items) > 1 else "x", "13 is not scored")
        return super().predict(items)

    def describe(self) -> dict[str, Any]:
        return {"factor": self.factor}


def picky_client(tmp_path: Path, export_dir: Path) -> TestClient:
    spec = ServingSpec(
        model_name="demo",
        item_schema=Item,
        answer_schema=Answer,
        load=lambda path: Picky(float((path / "factor.txt").read_text())),
        export_dir=export_dir,
        cache_dir=tmp_path / "cache",
        prefer_registry=False,
        extra_get={"/describe": lambda predictor: predictor.describe()},
    )
    return TestClient(create_app(spec), raise_server_exceptions=False)


def test_predictor_input_errors_are_422_and_extra_endpoints_serve(tmp_path: Path) -> None:
    export(tmp_path / "export", "3", 2.0)
    with picky_client(tmp_path, tmp_path / "export") as client:
        refused = client.post("/predict", json={"items": [{"x": 1}, {"x": 13}]})
        assert refused.status_code == 422
        assert refused.json()["error"] == "items.1.x: 13 is not scored"
        assert refused.json()["detail"][0]["field"] == "items.1.x"
        assert client.post("/predict", json={"x": 12}).json()["y"] == 24.0
        described = client.get("/describe")
        assert described.json() == {"factor": 2.0} and described.headers["x-model-version"] == "3"


def test_extra_endpoints_say_503_without_a_model(tmp_path: Path) -> None:
    with picky_client(tmp_path, tmp_path / "missing") as client:
        assert client.get("/describe").status_code == 503


def test_openapi_document_is_valid_and_every_ref_resolves(client: TestClient) -> None:
    from openapi_spec_validator import validate

    document = client.get("/openapi.json").json()
    validate(document)  # raises on any invalid part, unresolvable $ref included
    text = json.dumps(document)
    for name in ("Item", "PredictBatch", "Prediction", "PredictionBatch", "ErrorBody"):
        assert name in document["components"]["schemas"], name
    assert "#/$defs/" not in text
    predict = document["paths"]["/predict"]["post"]
    assert {"200", "413", "415", "422", "503"} <= set(predict["responses"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            ok = operation["responses"]["200"]
            assert ok.get("content"), f"{method.upper()} {path} documents no 200 body"
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert "application/json" not in metrics


def test_docs_page_and_its_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs-assets/{asset}" in page.text
        got = client.get(f"/docs-assets/{asset}")
        assert got.status_code == 200 and len(got.content) > 10_000


def test_every_endpoint_is_counted_and_timed_by_status(client: TestClient) -> None:
    client.get("/health")
    client.get("/ready")
    client.get("/metadata")
    client.post("/predict", json={"x": 1})
    client.post("/predict", json={"x": -1})
    text = client.get("/metrics").text
    for handler, method, status in [
        ("/health", "GET", "200"),
        ("/ready", "GET", "200"),
        ("/metadata", "GET", "200"),
        ("/predict", "POST", "200"),
        ("/predict", "POST", "422"),
    ]:
        labels = f'handler="{handler}",method="{method}",status="{status}"'
        assert f"http_requests_total{{{labels}}} 1.0" in text, labels
        assert f"http_request_duration_seconds_count{{{labels}}} 1.0" in text, labels


def test_body_that_is_not_json_is_415(client: TestClient) -> None:
    for media in ("text/plain", "application/x-www-form-urlencoded", "application/gzip"):
        got = client.post("/predict", content=b'{"x": 1}', headers={"content-type": media})
        assert got.status_code == 415, media
        assert media in got.json()["error"]
    assert (
        client.post(
            "/predict", content=b'{"x": 1}', headers={"content-type": "application/json; charset=utf-8"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"x": True}, "x"),
        ({"x": "3"}, "x"),
        ({"items": [{"x": 1}], "extra": 1}, "extra"),
        ({"items": [{"x": "1"}]}, "items.0.x"),
    ],
    ids=["bool-as-number", "string-as-number", "unknown-key-beside-items", "string-in-batch"],
)
def test_numbers_are_strict_and_unknown_keys_refused_at_every_level(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == field
    assert client.post("/predict", json={"x": 3}).json()["y"] == 6.0  # an integer is a number


@pytest.mark.parametrize(
    ("content", "headers", "why"),
    [
        (
            gzip.compress(b'{"x": 1}'),
            {"content-type": "application/json", "content-encoding": "gzip"},
            "Content-Encoding",
        ),
        ('{"x": 1}'.encode("utf-16"), {"content-type": "application/json; charset=utf-16"}, "charset=utf-16"),
        ('{"x": 1}'.encode("utf-16"), {"content-type": "application/json"}, "UTF-16"),
        (b'{"x": 1}', {"content-type": "text/plain"}, "text/plain"),
    ],
    ids=["gzip", "utf-16-declared", "utf-16-undeclared", "text-plain"],
)
def test_bodies_that_are_not_plain_utf8_json_are_415(
    client: TestClient, content: bytes, headers: dict[str, str], why: str
) -> None:
    response = client.post("/predict", content=content, headers=headers)
    assert response.status_code == 415 and why in response.json()["error"], response.text


@pytest.mark.parametrize("text", ["", "   \n\t", "\u200b\u200d\ufeff", "\u00ad \u2060"])
def test_text_that_shows_nothing_is_refused(text: str) -> None:
    from mlcore.serving.fields import readable_text

    with pytest.raises(ValueError, match="empty, or only whitespace or invisible"):
        readable_text(text)
    with pytest.raises(ValueError, match="UTF-8"):
        readable_text("ok \ud800")
    assert readable_text(" \u200bok ") == " \u200bok "


EVIL = "https://evil.example"


@pytest.mark.parametrize(
    ("path", "headers", "content"),
    [
        ("/admin/rollout", {"origin": EVIL, "content-type": "application/x-www-form-urlencoded"}, b"mode=ab"),
        ("/admin/rollout", {"origin": EVIL, "content-type": "text/plain"}, b'{"mode": "ab"}'),
        ("/admin/reload", {"origin": EVIL}, b""),
        ("/admin/reload", {"origin": "null"}, b""),  # a sandboxed frame or a file:// page
        ("/admin/reload", {"sec-fetch-site": "cross-site"}, b""),
        ("/predict", {"origin": EVIL, "content-type": "text/plain"}, b'{"x": 1}'),
        ("/predict", {"origin": "http://testserver:8001"}, b'{"x": 1}'),  # same host, another port
    ],
)
def test_a_page_on_another_origin_cannot_post(
    client: TestClient, path: str, headers: dict[str, str], content: bytes
) -> None:
    before = client.get("/rollout").json()["mode"]
    refused = client.post(path, headers=headers, content=content)
    assert refused.status_code == 403, refused.text
    assert "serve.allowed_origins" in refused.json()["error"]
    assert client.get("/rollout").json()["mode"] == before
    assert client.get("/health", headers=headers).status_code == 200, "reading stays open"


@pytest.mark.parametrize("path", ["/admin/rollout", "/admin/reload"])
def test_admin_routes_take_json_only(client: TestClient, path: str) -> None:
    refused = client.post(path, headers={"content-type": "text/plain"}, content=b'{"mode": "champion"}')
    assert refused.status_code == 415 and "application/json" in refused.json()["error"]


def test_same_origin_allowed_origins_and_scripts_may_post(tmp_path: Path) -> None:
    export(tmp_path / "export", "1", 2.0)
    with make_client(tmp_path, allowed_origins=("https://app.example",)) as c:
        assert c.post("/predict", json={"x": 1}).status_code == 200  # curl, scripts: no Origin
        assert c.post("/predict", json={"x": 1}, headers={"origin": "http://testserver"}).status_code == 200
        allowed = {"origin": "https://app.example", "sec-fetch-site": "cross-site"}
        assert c.post("/predict", json={"x": 1}, headers=allowed).status_code == 200
        assert c.post("/admin/rollout", json={"mode": "champion"}, headers=allowed).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/predict", b'{"x": 1, "x": 90}', "x: given twice in one JSON object"),
        ("/predict", b'{"items": [{"x": 1}], "items": [{"x": 2}]}', "items: given twice"),
        ("/predict", b'{"x": NaN}', "NaN is not a number JSON allows"),
        ("/predict", b'{"x": -Infinity}', "-Infinity is not a number JSON allows"),
        ("/admin/rollout", b'{"mode": "champion", "mode": "ab"}', "mode: given twice"),
    ],
)
def test_every_route_reads_json_strictly(client: TestClient, path: str, body: bytes, message: str) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and message in response.json()["error"], response.text


def test_deeply_nested_json_is_refused_not_a_crash(tmp_path: Path) -> None:
    export(tmp_path / "export", "1", 2.0)
    with make_client(tmp_path, max_body_bytes=1_000_000) as c:
        deep = b"[" * 100_000 + b"]" * 100_000
        response = c.post("/predict", content=deep, headers={"content-type": "application/json"})
        assert response.status_code == 422 and "nested too deeply" in response.json()["error"]
        assert c.post("/predict", json={"x": 1}).status_code == 200


def test_the_document_describes_the_admin_rollout_body(client: TestClient) -> None:
    body = client.get("/openapi.json").json()["paths"]["/admin/rollout"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert body["required"] and schema["required"] == ["mode"] and schema["additionalProperties"] is False
    assert set(schema["properties"]["mode"]["enum"]) >= {"champion", "canary", "ab"}


def test_an_unwritable_token_file_keeps_the_server_up_with_admin_closed(tmp_path: Path) -> None:
    export(tmp_path / "export", "1", 2.0)
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / ".admin-token").mkdir()  # a folder where the file should be: it cannot be written or read as a token
    with make_client(tmp_path, admin_token_file=locked / ".admin-token") as c:
        assert c.post("/predict", json={"x": 1}).status_code == 200
        assert c.post("/admin/reload").status_code == 403


def test_the_token_file_guards_the_admin_routes_on_loopback(tmp_path: Path) -> None:
    export(tmp_path / "export", "1", 2.0)
    path = tmp_path / "models" / ".admin-token"
    with make_client(tmp_path, admin_token_file=path) as c:
        assert c.post("/admin/reload").status_code == 403
        token = path.read_text().strip()
        assert c.post("/admin/reload", headers={"x-admin-token": token}).status_code == 200


class Labelled(Scaler):
    labels = ["ham", "spam"]


def test_the_document_names_the_labels_feedback_takes(tmp_path: Path) -> None:
    export(tmp_path / "export", "1", 2.0)
    spec = make_spec(tmp_path, feedback_kind="label", load=lambda _: Labelled(1.0))
    with TestClient(create_app(spec)) as c:
        body = c.get("/openapi.json").json()["paths"]["/feedback"]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"]["properties"]["label"]["enum"] == ["ham", "spam"]


def test_the_document_states_the_admin_token_links_and_the_inputs(tmp_path: Path) -> None:
    export(tmp_path / "export", "1", 2.0)
    spec = make_spec(tmp_path, feedback_kind="label", load=lambda _: Labelled(1.0))
    with TestClient(create_app(spec)) as c:
        document = c.get("/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["AdminToken"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "x-admin-token"}
    paths = document["paths"]
    assert paths["/admin/reload"]["post"]["security"] == [{"AdminToken": []}]
    assert paths["/admin/rollout"]["post"]["security"] == [{"AdminToken": []}]
    assert "security" not in paths["/predict"]["post"] and "security" not in paths["/feedback"]["post"]
    feedback = paths["/predict"]["post"]["responses"]["200"]["links"]["Feedback"]
    assert feedback["operationId"] == paths["/feedback"]["post"]["operationId"]
    assert feedback["requestBody"]["request_id"] == "$response.body#/request_id"
    versioned = paths["/v2/models/{name}/infer"]["post"]["responses"]["200"]["links"]["VersionInfer"]
    assert versioned["parameters"]["version"] == "$response.body#/model_version"
    tensor = document["components"]["schemas"]["RequestInput"]  # the demo model's one input, x (a float)
    assert tensor["properties"]["name"] == {"const": "x"} and "FP64" in tensor["properties"]["datatype"]["enum"]
    assert "BYTES" not in tensor["properties"]["datatype"]["enum"]
    assert tensor["properties"]["shape"]["prefixItems"][0]["maximum"] == 4  # serve.max_batch


@pytest.mark.parametrize("text", ["a", " \u200b", "\u00a0", "\U000e0001", "x\u200d", "\U0001f600", "\t\n", "\u3000ok"])
def test_the_documented_text_pattern_is_the_rule_the_server_applies(text: str) -> None:
    import re

    from mlcore.serving.fields import readable_text, visible_character_pattern

    try:
        readable_text(text)
        readable = True
    except ValueError:
        readable = False
    assert bool(re.search(visible_character_pattern(), text)) == readable


def test_metrics_summarise_the_inputs_each_answer_saw(client: TestClient) -> None:
    for x in (1, 2, 3):
        assert client.post("/predict", json={"x": x}).status_code == 200
    assert client.post("/predict", json={"x": -1}).status_code == 422  # refused: not counted
    text = client.get("/metrics").text
    assert 'input_feature_count{feature="x"} 3.0' in text and 'input_feature_sum{feature="x"} 6.0' in text


def test_traffic_metrics_count_answers_and_keep_cardinality_bounded() -> None:
    from mlcore.serving import traffic
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    metrics = traffic.TrafficMetrics(registry)
    metrics.observe("3", [{"len": 5, "oov": 0.5}], [{"label": "spam"}], allowed=["spam", "ham"])
    metrics.observe("3", [{"len": None, "oov": float("nan")}], [{"label": "<script>"}], allowed=["spam", "ham"])
    metrics.observe("4", [{"segment_input": ""}], [{"segment": 2, "segment_name": "loyal"}])
    metrics.observe("5", [{"area": 120.0, "flag": True}], [{"prediction": 250000.0, "interval": [1, 2]}])
    for i in range(traffic.MAX_FEATURES + 10):
        metrics.observe("5", [{f"f{i}": 1.0}], [])
    for i in range(traffic.MAX_LABELS + 10):
        metrics.observe("6", [], [{"label": f"l{i}"}])  # a predictor without a label list
    text = generate_latest(registry).decode()
    assert 'predictions_total{label="spam",version="3"} 1.0' in text
    assert 'predictions_total{label="other",version="3"} 1.0' in text  # not one of the predictor's labels
    assert 'predictions_total{label="2",version="4"} 1.0' in text
    assert 'prediction_value_sum{version="5"} 250000.0' in text
    assert 'input_feature_sum{feature="len"} 5.0' in text and 'input_missing_total{feature="len"} 1.0' in text
    assert (
        'input_missing_total{feature="oov"} 1.0' in text and 'input_missing_total{feature="segment_input"} 1.0' in text
    )
    assert 'feature="flag"' not in text  # a boolean is no measurement
    assert (
        len({line.split('feature="')[1].split('"')[0] for line in text.splitlines() if 'feature="' in line})
        <= traffic.MAX_FEATURES
    )
    assert 'predictions_total{label="other",version="6"} 10.0' in text
