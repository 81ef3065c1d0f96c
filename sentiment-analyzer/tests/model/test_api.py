"""The real API on loopback: a uvicorn process (the ``server`` fixture) serving the promoted model."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from mlcore.foundation.waiting import wait_until

from sentiment_analyzer.predictor import SERVED
from sentiment_analyzer.schemas import Item

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = Item.model_config["json_schema_extra"]["examples"][0]
REQUIRED = [name for name, field in Item.model_fields.items() if field.is_required()]
# An empty body names the first required field; a schema with no required field (one checked as a
# whole, e.g. "features or transactions") reports the body.
MISSING = REQUIRED[0] if REQUIRED else "body"


def test_health_ready_metadata(server: str, trained: dict[str, Any]) -> None:
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server}/ready").json()
    meta = httpx.get(f"{server}/metadata").json()
    assert ready["model_version"] == meta["version"] == trained["decision"].version
    assert meta["run_id"] == trained["run_info"]["run_id"]
    assert meta["training_data"]["train"]
    assert meta["metrics"]


def test_openapi_document_is_valid_and_names_the_schemas(server: str) -> None:
    from openapi_spec_validator import validate

    document = httpx.get(f"{server}/openapi.json").json()
    validate(document)  # every $ref resolves from the document root
    schemas = document["components"]["schemas"]
    assert {Item.__name__, "PredictBatch", "Prediction", "PredictionBatch", "ErrorBody"} <= set(schemas)
    assert set(Item.model_fields) <= set(schemas[Item.__name__]["properties"])
    docs = httpx.get(f"{server}/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text


def test_predict_one_and_batch_name_the_version(server: str, trained: dict[str, Any]) -> None:
    one = httpx.post(f"{server}/predict", json=EXAMPLE)
    assert one.status_code == 200, one.text
    assert one.json()["model_version"] == trained["decision"].version
    assert one.headers["x-model-version"] == trained["decision"].version
    batch = httpx.post(f"{server}/predict", json={"items": [EXAMPLE, EXAMPLE, EXAMPLE]})
    assert batch.status_code == 200, batch.text
    preds = batch.json()["predictions"]
    assert len(preds) == 3
    assert preds[0] == {k: v for k, v in one.json().items() if k not in ("model_version", "request_id")}
    assert one.headers["x-request-id"] == one.json()["request_id"] != batch.json()["request_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, MISSING),
        ({"items": []}, "items"),
        ({**EXAMPLE, "unexpected": 1}, "unexpected"),
        ({"items": [EXAMPLE], "unexpected": 1}, "unexpected"),
    ],
    ids=["missing-field", "empty-batch", "unknown-field", "unknown-key-beside-items"],
)
def test_bad_input_is_422_naming_the_field(server: str, body: dict[str, Any], field: str) -> None:
    response = httpx.post(f"{server}/predict", json=body)
    assert response.status_code == 422
    assert field in response.json()["error"]


def test_garbage_and_oversized_bodies(server: str, trained: dict[str, Any]) -> None:
    assert httpx.post(f"{server}/predict", content=b"{not json").status_code == 422
    assert httpx.post(f"{server}/predict", content=b"\xff\xfe\x00").status_code == 415  # UTF-16, not UTF-8
    gzipped = httpx.post(
        f"{server}/predict",
        content=gzip.compress(orjson.dumps(EXAMPLE)),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert gzipped.status_code == 415 and "Content-Encoding" in gzipped.json()["error"]
    too_many = {"items": [EXAMPLE] * (trained["cfg"].serve.max_batch + 1)}
    assert httpx.post(f"{server}/predict", json=too_many).status_code == 422
    huge = b'{"x": "' + b"a" * (trained["cfg"].serve.max_body_bytes + 10) + b'"}'
    assert httpx.post(f"{server}/predict", content=huge).status_code == 413
    assert httpx.get(f"{server}/health").status_code == 200  # still alive


def test_metrics_count_predictions(server: str) -> None:
    httpx.post(f"{server}/predict", json=EXAMPLE)
    text = httpx.get(f"{server}/metrics").text
    assert "predicted_items_total" in text
    assert 'http_requests_total{handler="/predict",method="POST",status="200"}' in text
    assert 'http_request_duration_seconds_count{handler="/predict",method="POST",status="200"}' in text


def test_two_workers_serve_with_the_overrides_given(trained: dict[str, Any]) -> None:
    """`make serve OVERRIDES="serve.workers=2 serve.max_batch=1"`: both workers apply max_batch=1."""
    import sys

    from mlcore.serving.smoke import free_port, running_server

    root = trained["root"]
    port = free_port()
    env = {"ML_PROJECT_ROOT": str(root), "ML_STORE_ROOT": str(root), "PYTHONPATH": str(ROOT / "src")}
    api = "sentiment_analyzer.api"
    cmd = [sys.executable, "-m", api, f"serve.port={port}", "serve.host=127.0.0.1"]
    cmd += ["serve.workers=2", "serve.max_batch=1", "serve.prediction_log=null"]
    with running_server(cmd, port, cwd=root, env=env) as (base, _), httpx.Client() as client:
        pairs = [client.post(f"{base}/predict", json={"items": [EXAMPLE, EXAMPLE]}) for _ in range(12)]
        ones = [client.post(f"{base}/predict", json={"items": [EXAMPLE]}) for _ in range(12)]
    assert {r.status_code for r in pairs} == {422}, [r.text for r in pairs if r.status_code != 422][:1]
    assert all("items" in r.json()["error"] for r in pairs)
    assert {r.status_code for r in ones} == {200}


def test_admin_routes_need_the_generated_token_on_loopback_too(server: str, trained: dict[str, Any]) -> None:
    token_file = trained["root"] / trained["cfg"].serve.admin_token_file
    assert token_file.stat().st_mode & 0o077 == 0, "the token file is readable by its owner only"
    refused = httpx.post(f"{server}/admin/reload", timeout=60)
    assert refused.status_code == 403 and "x-admin-token" in refused.json()["error"]
    wrong = httpx.post(f"{server}/admin/rollout", json={"mode": "champion"}, headers={"x-admin-token": "guess"})
    assert wrong.status_code == 403


def test_reload_switches_without_failing_requests(server: str, trained: dict[str, Any]) -> None:
    import concurrent.futures

    def hammer() -> list[int]:
        with httpx.Client(timeout=30) as client:  # what counts is that none fails, not how fast on a busy machine
            return [client.post(f"{server}/predict", json=EXAMPLE).status_code for _ in range(100)]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        load = pool.submit(hammer)
        token = (trained["root"] / trained["cfg"].serve.admin_token_file).read_text().strip()
        reload = httpx.post(f"{server}/admin/reload", headers={"x-admin-token": token}, timeout=60)
        codes = load.result()
    assert reload.status_code == 200, reload.text
    assert reload.json()["model_version"]
    assert set(codes) == {200}


def test_prediction_log_records_traffic(server: str, trained: dict[str, Any]) -> None:
    from mlcore.serving.predlog import read_window

    httpx.post(f"{server}/predict", json=EXAMPLE)
    path = trained["root"] / trained["cfg"].serve.prediction_log
    wait_until(lambda: path.exists() and len(read_window(path)) > 0, "a logged row")
    window = read_window(path)
    logged = window["input"].iloc[-1]
    # What the log keeps is the predictor's choice (mlcore.serving.predictor.log_inputs): the item
    # itself, or signals of it (an image is never stored).
    from mlcore.serving.predictor import log_inputs

    model = SERVED.load(trained["root"] / trained["cfg"].paths.export)
    expected = log_inputs(model, [Item.model_validate(EXAMPLE)])[0]
    for key, value in expected.items():
        assert logged[key] == (pytest.approx(value, abs=1e-5) if isinstance(value, float) else value), key


def test_monitor_on_little_traffic_is_not_judged(server: str, trained: dict[str, Any]) -> None:
    """Fewer logged rows than monitor.min_rows: exit 2, both reports say "not judged", never drift."""
    import json
    import subprocess
    import sys

    root, cfg = trained["root"], trained["cfg"]
    from mlcore.serving.predlog import read_window

    httpx.post(f"{server}/predict", json=EXAMPLE)
    path = root / cfg.serve.prediction_log
    wait_until(lambda: path.exists() and len(read_window(path)) > 0, "a logged row")  # committed every 0.2 s
    env = {"ML_PROJECT_ROOT": str(root), "ML_STORE_ROOT": str(root), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "sentiment_analyzer.monitor", "monitor.min_rows=1000000"],
        cwd=root,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    report = json.loads((root / cfg.monitor.report_json).read_text())
    assert report["status"] == "not_judged" and report["drift_detected"] is False
    assert "data-status='not_judged'" in (root / cfg.monitor.report_html).read_text()
    assert "\ndrift_detected 0.0" in httpx.get(f"{server}/metrics").text  # never shown as drift


def test_the_models_extra_endpoints_answer(server: str) -> None:
    for path in SERVED.endpoints:  # e.g. GET /segments of a clustering model
        response = httpx.get(f"{server}{path}")
        assert response.status_code == 200, path
        assert response.json(), path
        assert path in httpx.get(f"{server}/openapi.json").json()["paths"]


def test_a_compiled_fast_path_is_parity_checked_and_shown(server: str) -> None:
    meta = httpx.get(f"{server}/metadata").json()
    if "fastpath" not in meta:
        pytest.skip("this project's predictor scores with its native model only (no mlcore.fastpath.FastModel)")
    fast = meta["fastpath"]
    assert fast["reason"], fast
    if fast["kind"]:  # a model that compiled must pass its parity check on its input example
        assert fast["active"], fast["reason"]
    shown = 'fastpath_active{kind="%s"} %s' % (fast["kind"] or "none", float(fast["active"]))  # noqa: UP031
    assert shown in httpx.get(f"{server}/metrics").text


SERVING_PROBE = """
import json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from mlcore.foundation.config import load_params
from sentiment_analyzer.api import build_app
with TestClient(build_app(load_params(Path("params.yaml")), Path.cwd())) as client:
    answer = client.post("/predict", json=json.loads(sys.argv[1]))
    meta = client.get("/metadata").json()
loaded = sorted(m for m in ("mlflow", "sklearn", "scipy", "torch") if m in sys.modules)
seen = dict(status=answer.status_code, version=meta.get("version"), fastpath=meta.get("fastpath"), loaded=loaded)
print(json.dumps(seen))
"""


def test_serving_never_imports_mlflow_nor_a_compiled_models_library(trained: dict[str, Any]) -> None:
    """The app as a worker builds it (registry fetch included) answers a request; MLflow stays out
    of the process, torch too (networks are served from ONNX), and scikit-learn too when the fast
    path serves."""
    import json
    import subprocess
    import sys

    root: Path = trained["root"]
    env = {**os.environ, "ML_PROJECT_ROOT": str(root), "ML_STORE_ROOT": str(root), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", SERVING_PROBE, json.dumps(EXAMPLE)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["status"] == 200 and seen["version"] == trained["decision"].version, seen
    assert "mlflow" not in seen["loaded"], seen
    if "sklearn" not in seen["loaded"]:  # (skops, which loads a native scikit-learn model, imports torch)
        assert "torch" not in seen["loaded"], seen
    if (seen["fastpath"] or {}).get("active"):
        assert seen["loaded"] == [], seen


def test_feedback_takes_this_tasks_outcome_and_joins_it_to_the_answer(server: str, trained: dict[str, Any]) -> None:
    from mlcore.foundation.config import load_params
    from mlcore.serving.feedback import KINDS

    kind = load_params(ROOT / "params.yaml").rollout.feedback
    field = KINDS[kind][0]
    answer = httpx.post(f"{server}/predict", json=EXAMPLE).json()
    outcome = {"label": answer.get("label"), "value": answer.get("prediction"), "responded": True}[field]
    body = {"request_id": answer["request_id"], field: outcome}
    first = httpx.post(f"{server}/feedback", json=body)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "status": "recorded",
        "request_id": answer["request_id"],
        "item": 0,
        "model_version": answer["model_version"],
    }
    assert httpx.post(f"{server}/feedback", json=body).json()["status"] == "duplicate"
    wrong = {"label": "no-such-label", "value": "1", "responded": "yes"}[field]
    refused = httpx.post(f"{server}/feedback", json={"request_id": answer["request_id"], field: wrong})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == field
    unknown = httpx.post(f"{server}/feedback", json={"request_id": "never-answered", field: outcome})
    assert unknown.status_code == 404
    rollout = httpx.get(f"{server}/rollout").json()
    assert rollout["mode"] == "champion" and rollout["champion_version"] == trained["decision"].version


def test_smoke_checks_a_deployed_service_and_its_version(server: str, trained: dict[str, Any]) -> None:
    """The CD workflow's smoke test after a rollout: pass on the right version, fail on another."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "sentiment_analyzer.smoke", "--url", server, "--requests", "5"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    right = subprocess.run([*cmd, "--version", trained["decision"].version], env=env, capture_output=True, text=True)
    assert right.returncode == 0, right.stdout + right.stderr
    assert orjson.loads(right.stdout.strip().splitlines()[-1])["ok"] == 5
    wrong = subprocess.run([*cmd, "--version", "no-such-version"], env=env, capture_output=True, text=True)
    assert wrong.returncode == 1, wrong.stdout
    gone = subprocess.run(
        [*cmd[:-4], "--url", "http://127.0.0.1:9", "--requests", "1"], env=env, capture_output=True, text=True
    )
    assert gone.returncode == 1 and "error" in gone.stdout, gone.stdout + gone.stderr
