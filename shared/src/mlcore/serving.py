"""FastAPI app factory shared by every project's API.

A project supplies its request item schema and a ``load`` function that turns a model folder into
a predictor (``predict(items) -> list[dict]``). The factory adds the rest:

- ``POST /predict``: one item, or ``{"items": [...]}`` (at most ``max_batch``); bodies larger than
  ``max_body_bytes`` get 413, invalid input 422 naming the field, no model 503;
- ``GET /health`` (process up), ``GET /ready`` (model loaded), ``GET /metadata``, ``GET /metrics``
  (Prometheus, drift figures included), ``POST /admin/reload`` (switch to the current champion
  without a restart; requests in flight finish on the model they started with);
- an ``x-model-version`` header on every response; a prediction log written off the request path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from . import registry
from .errors import InputError
from .predlog import PredictionLog

log = logging.getLogger("mlcore.serving")
__all__ = ["InputError", "Loaded", "Predictor", "ServingSpec", "create_app", "run"]


class Predictor(Protocol):
    def predict(self, items: Sequence[BaseModel]) -> list[dict[str, Any]]: ...


@dataclass
class ServingSpec:
    model_name: str
    item_schema: type[BaseModel]
    load: Callable[[Path], Predictor]
    export_dir: Path
    cache_dir: Path  # private to this process: removed at shutdown
    prediction_log: Path | None = None
    drift_report: Path | None = None
    max_batch: int = 256
    max_body_bytes: int = 1_000_000
    prefer_registry: bool = True
    admin_token: str | None = None
    title: str = "model API"
    # Extra read-only endpoints: path -> function of the loaded predictor (e.g. "/segments").
    extra_get: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)


@dataclass
class Loaded:
    predictor: Predictor
    metadata: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def _error(status: int, message: str, detail: Any = None) -> ORJSONResponse:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    return ORJSONResponse(body, status_code=status)


def _field_errors(exc: ValidationError, prefix: Sequence[str | int] = ()) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [*prefix, *err["loc"]]
        details.append({"field": ".".join(str(p) for p in loc) or "body", "msg": err["msg"], "type": err["type"]})
    summary = "; ".join(f"{d['field']}: {d['msg']}" for d in details[:5])
    return summary, details


class _ModelVersionHeader:
    """Pure ASGI middleware: every HTTP response names the model version."""

    def __init__(self, app: Any, state: dict[str, Loaded | None]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                loaded = self.state.get("model")
                version = loaded.version if loaded else "none"
                message["headers"] = [*message.get("headers", []), (b"x-model-version", version.encode())]
            await send(message)

        await self.app(scope, receive, send_with_header)


def create_app(spec: ServingSpec) -> FastAPI:
    state: dict[str, Loaded | None] = {"model": None}
    errors: dict[str, str] = {}
    reload_lock = asyncio.Lock()
    metrics = CollectorRegistry()
    requests = Counter("http_requests_total", "HTTP requests", ["endpoint", "status"], registry=metrics)
    latency = Histogram(
        "predict_latency_seconds",
        "Time spent in /predict",
        registry=metrics,
        buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    )
    items_total = Counter("predicted_items_total", "Items predicted", registry=metrics)
    model_info = Gauge("model_version_info", "Served model version", ["model_name", "version"], registry=metrics)
    drift_gauge = Gauge(
        "drift_score", "Latest drift statistic per feature (from `monitor`)", ["feature", "stat"], registry=metrics
    )
    drift_flag = Gauge("drift_detected", "1 when the latest monitor run crossed a threshold", registry=metrics)
    log_dropped = Gauge("prediction_log_dropped_total", "Prediction-log rows dropped under overload", registry=metrics)
    drift_mtime = {"value": 0.0}
    predlog: dict[str, PredictionLog | None] = {"log": None}

    item_adapter = TypeAdapter(spec.item_schema)
    batch_model = create_model(
        "PredictBatch",
        items=(list[spec.item_schema], Field(min_length=1, max_length=spec.max_batch)),  # type: ignore[valid-type]
    )

    def load_model() -> Loaded:
        resolved = registry.resolve(spec.model_name, spec.export_dir, spec.cache_dir, spec.prefer_registry)
        predictor = spec.load(resolved.path)
        return Loaded(predictor=predictor, metadata=resolved.metadata)

    def install(loaded: Loaded) -> None:
        previous = state["model"]
        state["model"] = loaded
        if previous is not None:
            model_info.remove(spec.model_name, previous.version)
        model_info.labels(spec.model_name, loaded.version).set(1)
        log.info("model loaded", extra={"model_name": spec.model_name, "version": loaded.version})

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        if spec.prediction_log is not None:
            predlog["log"] = PredictionLog(spec.prediction_log)
        try:
            install(await run_in_threadpool(load_model))
        except Exception as exc:  # noqa: BLE001 - serve 503s rather than die
            errors["load"] = str(exc)
            log.error("no model loaded", extra={"reason": str(exc)[:500]})
        yield
        if predlog["log"] is not None:
            predlog["log"].close()
        # The registry download is this process's private copy; nothing else reads it.
        shutil.rmtree(spec.cache_dir, ignore_errors=True)

    app = FastAPI(title=spec.title, lifespan=lifespan, default_response_class=ORJSONResponse)
    app.add_middleware(_ModelVersionHeader, state=state)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> ORJSONResponse:
        log.exception("unhandled error")
        return _error(500, f"internal error: {type(exc).__name__}")

    request_schema = {
        "oneOf": [spec.item_schema.model_json_schema(), batch_model.model_json_schema()],
    }

    @app.post(
        "/predict",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": request_schema}}}},
        summary='Predict one item, or a batch as {"items": [...]}',
    )
    async def predict(request: Request) -> Response:
        start = time.perf_counter()
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > spec.max_body_bytes:
            requests.labels("predict", "413").inc()
            return _error(413, f"body too large: {declared} bytes > limit {spec.max_body_bytes}")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > spec.max_body_bytes:
                requests.labels("predict", "413").inc()
                return _error(413, f"body too large: over limit {spec.max_body_bytes} bytes")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            requests.labels("predict", "422").inc()
            return _error(422, f"body: invalid JSON ({exc})")
        batch = isinstance(payload, dict) and "items" in payload
        try:
            items = batch_model.model_validate(payload).items if batch else [item_adapter.validate_python(payload)]
        except ValidationError as exc:
            summary, details = _field_errors(exc)
            requests.labels("predict", "422").inc()
            return _error(422, summary, details)
        loaded = state["model"]
        if loaded is None:
            requests.labels("predict", "503").inc()
            return _error(503, "no model loaded: " + errors.get("load", "still loading"))
        try:
            outputs = loaded.predictor.predict(items)
        except InputError as exc:
            requests.labels("predict", "422").inc()
            return _error(422, str(exc), [{"field": exc.field, "msg": exc.message, "type": "value_error"}])
        if predlog["log"] is not None:
            predlog["log"].record(loaded.version, [i.model_dump(mode="json") for i in items], outputs)
        items_total.inc(len(items))
        requests.labels("predict", "200").inc()
        latency.observe(time.perf_counter() - start)
        if batch:
            return ORJSONResponse({"model_version": loaded.version, "predictions": outputs})
        return ORJSONResponse({"model_version": loaded.version, **outputs[0]})

    @app.get("/health", summary="The process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="A model is loaded")
    async def ready() -> Response:
        loaded = state["model"]
        if loaded is None:
            return _error(503, "not ready: " + errors.get("load", "model still loading"))
        return ORJSONResponse({"status": "ready", "model_version": loaded.version})

    @app.get("/metadata", summary="The served model: name, version, run, training data, metrics")
    async def metadata() -> Response:
        loaded = state["model"]
        if loaded is None:
            return _error(503, "no model loaded: " + errors.get("load", "still loading"))
        return ORJSONResponse({"model_name": spec.model_name, **loaded.metadata})

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        _refresh_drift()
        if predlog["log"] is not None:
            log_dropped.set(predlog["log"].dropped)
        return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)

    def _refresh_drift() -> None:
        path = spec.drift_report
        if path is None or not path.exists() or path.stat().st_mtime == drift_mtime["value"]:
            return
        drift_mtime["value"] = path.stat().st_mtime
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        drift_gauge.clear()
        for name, feature in report.get("features", {}).items():
            for stat in ("psi", "ks", "chi2_p_value", "p_value"):
                if feature.get(stat) is not None:
                    drift_gauge.labels(name, stat).set(float(feature[stat]))
        drift_flag.set(1.0 if report.get("drift_detected") else 0.0)

    def add_extra_get(path: str, describe: Callable[[Any], Any]) -> None:
        async def endpoint() -> Response:
            loaded = state["model"]
            if loaded is None:
                return _error(503, "no model loaded: " + errors.get("load", "still loading"))
            return ORJSONResponse(describe(loaded.predictor))

        app.add_api_route(path, endpoint, methods=["GET"], summary=f"{path.strip('/')} of the served model")

    for path, describe in spec.extra_get.items():
        add_extra_get(path, describe)

    @app.post("/admin/reload", summary="Switch to the current @champion without a restart")
    async def reload(request: Request) -> Response:
        if spec.admin_token and request.headers.get("x-admin-token") != spec.admin_token:
            return _error(403, "x-admin-token header missing or wrong")
        async with reload_lock:
            previous = state["model"].version if state["model"] else None
            try:
                loaded = await run_in_threadpool(load_model)
            except Exception as exc:  # noqa: BLE001 - keep serving the old model
                log.error("reload failed", extra={"reason": str(exc)[:500]})
                return _error(503, f"reload failed, still serving {previous}: {exc}")
            install(loaded)
            errors.pop("load", None)
        return ORJSONResponse({"status": "reloaded", "previous_version": previous, "model_version": loaded.version})

    return app


def run(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "info") -> None:
    """Serve ``app`` with uvicorn (uvloop + httptools when installed, no access log)."""
    import uvicorn

    from .logs import configure_json_logging

    configure_json_logging(log_level)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    uvicorn.run(app, host=host, port=port, workers=workers, access_log=False, log_config=None, log_level=log_level)
