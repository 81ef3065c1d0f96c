"""FastAPI app factory shared by every project's API.

A project supplies its request item schema and a ``load`` function that turns a model folder into
a predictor (``predict(items) -> list[dict]``). The factory adds the rest:

- ``POST /predict``: one item, or ``{"items": [...]}`` (at most ``max_batch``); bodies larger than
  ``max_body_bytes`` get 413, invalid input 422 naming the field, no model 503;
- ``GET /health`` (process up), ``GET /ready`` (model loaded), ``GET /metadata``, ``GET /metrics``
  (Prometheus, drift figures included), ``POST /admin/reload`` (switch to the current champion
  without a restart; requests in flight finish on the model they started with);
- an ``x-model-version`` header on every response; a prediction log written off the request path;
- ``GET /docs`` (Swagger UI from a packaged copy, no CDN) over an OpenAPI document in which the
  request body, every answer and every error response is a named schema;
- request counts and latency histograms for every endpoint by status code on ``/metrics``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic.json_schema import models_json_schema
from starlette.requests import ClientDisconnect

from mlcore import fastpath
from mlcore.foundation.redact import mask_credentials
from mlcore.lifecycle import registry
from mlcore.serving import arms as arms_module
from mlcore.serving import open_inference
from mlcore.serving.errors import ErrorBody, ORJSONResponse, error_response, error_responses, field_errors
from mlcore.serving.predictor import InputError, MicroBatcher, Predictor, execution_of
from mlcore.serving.predlog import PredictionLog
from mlcore.serving.protocol import ClientLimits
from mlcore.serving.rollout import RolloutSettings

log = logging.getLogger("mlcore.serving.app")
__all__ = ["InputError", "Loaded", "ModelHolder", "Predictor", "ServingSpec", "ServingState", "create_app", "run"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # a client's own x-request-id is kept when it looks like this


@dataclass
class ServingSpec:
    model_name: str
    item_schema: type[BaseModel]
    answer_schema: type[BaseModel]  # one answer of the predictor (documents /predict's response)
    load: Callable[[Path], Predictor]
    export_dir: Path
    cache_dir: Path  # private to this process: removed at shutdown
    prediction_log: Path | None = None
    drift_report: Path | None = None
    max_batch: int = 256
    max_body_bytes: int = 1_000_000
    prefer_registry: bool = True
    tracking_uri: str | None = None  # the registry's store (None: MLflow's own default / environment)
    # Start-up waits at most registry_timeout_s for the registry, then serves the local export and
    # asks the registry again every registry_retry_s until it answers.
    registry_timeout_s: float = 20.0
    registry_retry_s: float = 30.0
    # Slow clients get 408 past the header/body deadlines; 503 beyond limit_connections open connections.
    client_limits: ClientLimits = field(default_factory=ClientLimits)
    admin_token: str | None = None
    host: str = "127.0.0.1"  # off loopback, /admin/reload always needs a token (generated if none is set)
    batch_max_items: int = 64  # micro-batching (predictors with execution = "batch")
    batch_wait_ms: float = 5.0
    title: str = "model API"
    # Extra read-only endpoints: path -> function of the loaded predictor (e.g. "/segments").
    extra_get: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    # Uploads: /predict also takes multipart/form-data files (field `file`, or `files` for a batch);
    # each file becomes an item whose `upload_field` holds the file's bytes, base64-encoded.
    upload_field: str | None = None
    page: str | None = None  # HTML served at GET / (e.g. an upload page; same origin, no CDN)
    # A predictor that logs signals (``log_inputs``) logs the request items as sent only when asked
    # (raw text or images may be personal data).
    log_raw_inputs: bool = False
    # Champion and challenger (``mlcore.serving.rollout``); the challenger is ``@challenger`` from
    # the registry, or ``challenger_export`` when the server does not use the registry.
    rollout: RolloutSettings = field(default_factory=RolloutSettings)
    challenger_export: Path | None = None
    feedback_kind: str | None = None  # label | value | response (``mlcore.serving.feedback``); None: no /feedback

    @classmethod
    def from_config(
        cls,
        serve: Mapping[str, Any],
        root: Path,
        *,
        cache_dir: Path,
        drift_report: Path | None = None,
        rollout: Mapping[str, Any] | None = None,
        **project: Any,
    ) -> ServingSpec:
        """The spec from the ``serve`` config group (paths relative to ``root``) and the project's
        parts (``model_name``, ``item_schema``, ``answer_schema``, ``load``, ``export_dir``, ...).
        ``SERVE_ADMIN_TOKEN`` in the environment wins over ``serve.admin_token``."""
        log_path = serve.get("prediction_log")
        return cls(
            cache_dir=cache_dir,
            drift_report=drift_report,
            prediction_log=Path(root) / log_path if log_path else None,
            max_batch=int(serve.get("max_batch", 256)),
            max_body_bytes=int(serve.get("max_body_bytes", 1_000_000)),
            prefer_registry=bool(serve.get("prefer_registry", True)),
            registry_timeout_s=float(serve.get("registry_timeout_s", 20.0)),
            registry_retry_s=float(serve.get("registry_retry_s", 30.0)),
            client_limits=ClientLimits.from_config(serve),
            admin_token=os.environ.get("SERVE_ADMIN_TOKEN") or serve.get("admin_token"),
            host=str(serve.get("host", "127.0.0.1")),
            batch_max_items=int(serve.get("batch_max_items", 64)),
            batch_wait_ms=float(serve.get("batch_wait_ms", 5.0)),
            log_raw_inputs=bool(serve.get("log_raw_inputs", False)),
            rollout=RolloutSettings.from_config(rollout),
            **project,
        )


@dataclass
class Loaded:
    predictor: Predictor
    metadata: dict[str, Any]
    batcher: MicroBatcher | None = None  # for predictors with execution = "batch"
    fastpath: fastpath.Status | None = None  # compiled fast path or native model (None: not a FastModel predictor)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    async def answer(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Score ``items`` the way the predictor declares (inline, in a thread, or micro-batched)."""
        mode = execution_of(self.predictor)
        if mode == "inline":
            return self.predictor.predict(items)
        if mode == "thread":
            return await run_in_threadpool(self.predictor.predict, items)
        assert self.batcher is not None
        return await self.batcher.submit(items)


class ModelHolder:
    """The served model and why there is none: loaded at start, swapped by reload, and switched to
    the registry's champion once the registry answers when start-up had to use the local export."""

    def __init__(self, spec: ServingSpec, on_install: Callable[[Loaded | None, Loaded], None]) -> None:
        self.spec = spec
        self.current: Loaded | None = None
        self.error: str | None = "still loading"
        self.lock = asyncio.Lock()
        self.on_install = on_install
        self._retry: asyncio.Task[None] | None = None
        self.challenger: Loaded | None = None
        self.challenger_error: str | None = None

    @property
    def challenger_cache(self) -> Path:
        return self.spec.cache_dir.with_name(self.spec.cache_dir.name + "-challenger")

    def load_challenger(self) -> Loaded:
        """``@challenger`` from the registry (or ``challenger_export`` without one)."""
        spec = self.spec
        if spec.prefer_registry:
            from mlcore.lifecycle.aliases import CHALLENGER

            resolved = registry.fetch_champion(
                spec.model_name, self.challenger_cache, spec.tracking_uri, spec.registry_timeout_s, alias=CHALLENGER
            )
            resolved.metadata = {**resolved.metadata, "served_from": registry.REGISTRY}
        elif spec.challenger_export is not None:
            resolved = registry.load_export(spec.challenger_export)
        else:
            raise registry.ModelUnavailable(
                "no challenger: serve.prefer_registry is off and no challenger export is set"
            )
        return self._build(resolved)

    async def load_challenger_now(self) -> bool:
        """Load (or re-load) the challenger; False with ``challenger_error`` set when there is none."""
        try:
            loaded = await run_in_threadpool(self.load_challenger)
        except Exception as exc:  # noqa: BLE001 - the champion keeps serving
            self.challenger_error = failure_message(exc)
            log.warning("no challenger loaded", extra={"reason": failure_detail(exc)})
            return False
        previous, self.challenger, self.challenger_error = self.challenger, loaded, None
        log.info("challenger loaded", extra={"version": loaded.version})
        if previous is not None and previous.batcher is not None:
            await previous.batcher.close()
        return True

    def load(self) -> Loaded:
        spec = self.spec
        resolved = registry.resolve(
            spec.model_name,
            spec.export_dir,
            spec.cache_dir,
            spec.prefer_registry,
            spec.tracking_uri,
            spec.registry_timeout_s,
        )
        return self._build(resolved)

    def load_champion(self) -> Loaded:
        """The registry's champion only (no fallback): raises ``RegistryUnavailable``."""
        spec = self.spec
        resolved = registry.fetch_champion(spec.model_name, spec.cache_dir, spec.tracking_uri, spec.registry_timeout_s)
        resolved.metadata = {**resolved.metadata, "served_from": registry.REGISTRY}
        return self._build(resolved)

    def _build(self, resolved: registry.ResolvedModel) -> Loaded:
        spec = self.spec
        predictor = spec.load(resolved.path)
        status = fastpath.verify(predictor, resolved.path, spec.item_schema)  # parity on the input example
        batcher = None
        if execution_of(predictor) == "batch":
            batcher = MicroBatcher(predictor.predict, spec.batch_max_items, spec.batch_wait_ms / 1000)
        return Loaded(predictor=predictor, metadata=resolved.metadata, batcher=batcher, fastpath=status)

    async def install(self, loaded: Loaded) -> Loaded | None:
        previous, self.current, self.error = self.current, loaded, None
        self.on_install(previous, loaded)
        if previous is not None and previous.batcher is not None:
            await previous.batcher.close()  # requests already queued finish on the old model
        return previous

    async def start(self) -> None:
        try:
            await self.install(await run_in_threadpool(self.load))
        except Exception as exc:  # noqa: BLE001 - serve 503s rather than die
            self.error = failure_message(exc)
            log.error("no model loaded", extra={"reason": failure_detail(exc)})
        if self.spec.prefer_registry and (self.current is None or self.current.metadata.get("registry")):
            self._retry = asyncio.create_task(self._retry_registry())

    async def _retry_registry(self) -> None:
        """Ask the registry again every ``registry_retry_s`` until it gives the champion; serve it."""
        while True:
            await asyncio.sleep(self.spec.registry_retry_s)
            async with self.lock:
                try:
                    loaded = await run_in_threadpool(self.load_champion)
                except Exception as exc:  # noqa: BLE001 - keep serving what we have, try again later
                    log.warning("registry still unavailable", extra={"reason": failure_detail(exc)})
                    continue
                await self.install(loaded)
                log.info("registry answered: serving its champion", extra={"version": loaded.version})
                return

    async def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        for loaded in (self.current, self.challenger):
            if loaded is not None and loaded.batcher is not None:
                await loaded.batcher.close()

    def unavailable(self) -> str:
        return self.error or "still loading"


def failure_message(exc: BaseException) -> str:
    """Why no model could be loaded, for clients: no paths, no credentials (the log has those)."""
    if isinstance(exc, registry.ModelUnavailable):
        return str(exc)
    return f"the model could not be loaded ({type(exc).__name__}); the server log says why"


def failure_detail(exc: BaseException) -> str:
    if isinstance(exc, registry.ModelUnavailable):
        return exc.detail[:500]
    return mask_credentials(f"{type(exc).__name__}: {exc}")[:500]


@dataclass
class ServingState:
    """What the app holds between requests (``app.state.serving``): the model, the prediction log,
    and the drift report last read into ``/metrics``."""

    holder: ModelHolder
    predlog: PredictionLog | None = None
    drift_mtime: float = 0.0
    arms: Any = None  # mlcore.serving.arms.Arms


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    model_version: str
    served_from: str = Field(examples=["registry"], description="`registry` (its @champion) or `local export`.")
    registry: str | None = Field(
        default=None, description="Why the registry's champion is not served (the server keeps asking)."
    )


class Metadata(BaseModel):
    """The served model (registry metadata; a local export carries the same fields)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())
    model_name: str
    version: str
    alias: str | None = None
    run_id: str | None = None
    source: str | None = None
    git_commit: str | None = None
    training_data: dict[str, str] = Field(default_factory=dict, description="DVC md5 of each data split.")
    metrics: dict[str, float] = Field(default_factory=dict)
    served_from: str | None = Field(default=None, description="`registry` (its @champion) or `local export`.")
    registry: str | None = Field(
        default=None, description="Why the registry's champion is not served (the server keeps asking)."
    )


class Reloaded(BaseModel):
    status: str = Field(examples=["reloaded"])
    previous_version: str | None
    model_version: str


class _ModelVersionHeader:
    """Pure ASGI middleware: every HTTP response names the model version."""

    def __init__(self, app: Any, holder: ModelHolder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if not any(name == b"x-model-version" for name, _ in headers):  # the arm that answered set it
                    loaded = self.holder.current
                    version = loaded.version if loaded else "none"
                    message["headers"] = [*headers, (b"x-model-version", version.encode())]
            await send(message)

        await self.app(scope, receive, send_with_header)


def admin_token(spec: ServingSpec) -> str | None:
    """The token /admin/reload requires: the configured one; off loopback a generated one when
    none is configured (written to ``<cache_dir>/admin_token``, readable by this user only)."""
    if spec.admin_token or spec.host in LOOPBACK:
        return spec.admin_token
    import secrets

    token = secrets.token_urlsafe(24)
    path = spec.cache_dir / "admin_token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(token + "\n", encoding="utf-8")
    log.warning(
        "serving off loopback without serve.admin_token: /admin/reload needs the generated token",
        extra={"token_file": str(path)},
    )
    return token


def create_app(spec: ServingSpec) -> FastAPI:
    metrics = CollectorRegistry()
    items_total = Counter("predicted_items_total", "Items predicted", registry=metrics)
    model_info = Gauge("model_version_info", "Served model version", ["model_name", "version"], registry=metrics)
    drift_gauge = Gauge(
        "drift_score", "Latest drift statistic per feature (from `monitor`)", ["feature", "stat"], registry=metrics
    )
    drift_flag = Gauge("drift_detected", "1 when the latest monitor run crossed a threshold", registry=metrics)
    log_dropped = Gauge("prediction_log_dropped_total", "Prediction-log rows dropped under overload", registry=metrics)
    log_written = Gauge("prediction_log_written_total", "Prediction-log rows committed", registry=metrics)
    log_queued = Gauge(
        "prediction_log_queue_rows", "Rows answered, not yet committed to the prediction log", registry=metrics
    )
    log_errors = Gauge("prediction_log_write_errors_total", "Failed (retried) prediction-log writes", registry=metrics)
    batch_calls = Gauge(
        "predict_batches_total", "Combined predict calls of the micro-batcher (batch predictors)", registry=metrics
    )
    batch_items = Gauge(
        "predict_batch_items_mean", "Mean items per combined call over the last 100 calls", registry=metrics
    )
    fast_gauge = Gauge(
        "fastpath_active",
        "1: the compiled fast path serves the model; 0: it failed to compile or its parity check (see logs)",
        ["kind"],
        registry=metrics,
    )

    item_adapter = TypeAdapter(spec.item_schema)
    batch_model = create_model(
        "PredictBatch",
        __config__=ConfigDict(extra="forbid"),
        items=(list[spec.item_schema], Field(min_length=1, max_length=spec.max_batch)),  # type: ignore[valid-type]
    )

    def installed(previous: Loaded | None, loaded: Loaded) -> None:
        if previous is not None:
            model_info.remove(spec.model_name, previous.version)
        model_info.labels(spec.model_name, loaded.version).set(1)
        fast_gauge.clear()
        if loaded.fastpath is not None:
            fast_gauge.labels(loaded.fastpath.kind or "none").set(int(loaded.fastpath.active))
        log.info(
            "model loaded",
            extra={
                "model_name": spec.model_name,
                "version": loaded.version,
                "execution": execution_of(loaded.predictor),
                "fastpath": vars(loaded.fastpath) if loaded.fastpath is not None else None,
            },
        )

    holder = ModelHolder(spec, installed)
    state = ServingState(holder)
    token = admin_token(spec)
    arms = arms_module.Arms(
        spec.rollout,
        holder,
        metrics,
        spec.model_name,
        spec.feedback_kind,
        spec.tracking_uri if spec.prefer_registry else None,
        spec.log_raw_inputs,
    )
    state.arms = arms

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        if spec.prediction_log is not None:
            state.predlog = PredictionLog(spec.prediction_log)
        arms.open(state.predlog)
        await holder.start()
        await arms.start()
        yield
        await arms.stop()
        await holder.stop()
        if state.predlog is not None:
            state.predlog.close()
        # The registry downloads are this process's private copies; nothing else reads them.
        shutil.rmtree(spec.cache_dir, ignore_errors=True)
        shutil.rmtree(holder.challenger_cache, ignore_errors=True)

    def authorised(request: Request) -> bool:
        return not token or request.headers.get("x-admin-token") == token

    app = FastAPI(
        title=spec.title,
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
        docs_url=None,
        redoc_url=None,
    )
    app.state.serving = state
    app.add_middleware(_ModelVersionHeader, holder=holder)
    app.add_middleware(_RequestMetrics, registry=metrics)
    _offline_docs(app, spec.title)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> ORJSONResponse:
        log.exception("unhandled error")
        return error_response(500, f"internal error: {type(exc).__name__}")

    request_id_field = (str, Field(description="Quote it in POST /feedback with the true outcome."))
    answer = create_model(
        "Prediction",
        __base__=spec.answer_schema,
        model_version=(str, Field(description="The model that answered.")),
        request_id=request_id_field,
    )
    answers = create_model(
        "PredictionBatch",
        model_version=(str, Field(description="The model that answered.")),
        request_id=request_id_field,
        predictions=(list[spec.answer_schema], Field(description="One answer per item, in order.")),  # type: ignore[valid-type]
    )
    _document_predict(
        app, spec.model_name, spec.item_schema, batch_model, answer, answers, open_inference.InferenceRequest
    )

    async def read_body(request: Request, uploads: bool) -> tuple[bytes, bool] | Response:
        """The body and whether it is a multipart upload, or the 408/413/415 answer."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > spec.max_body_bytes:
            return error_response(413, f"body too large: {declared} bytes > limit {spec.max_body_bytes}")
        _, upload, refused = _media_type(request, uploads)
        if refused:
            return error_response(415, refused)
        body = bytearray()
        try:
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > spec.max_body_bytes:
                    return error_response(413, f"body too large: over limit {spec.max_body_bytes} bytes")
        except ClientDisconnect:  # gone, or cut off as too slow (the protocol answered 408)
            return error_response(408, "the client went away before the body was complete")
        if not upload and (refused := _not_utf8(body)) is not None:
            return error_response(415, refused)
        return bytes(body), upload

    async def score_request(items: Sequence[Any], request: Request | None) -> arms_module.Scored | Response:
        """Answers to validated items from the arm the rollout picks (logged, counted), or the 4xx/503 answer."""
        key = request.headers.get(spec.rollout.key_header) if request is not None else None
        given = request.headers.get("x-request-id") if request is not None else None
        request_id = given if given and REQUEST_ID.fullmatch(given) else None
        scored = await arms.score(items, key, request_id)
        if not isinstance(scored, Response):
            items_total.inc(len(items))
        return scored

    async def score(items: Sequence[Any]) -> tuple[Loaded, list[dict[str, Any]]] | Response:
        scored = await score_request(items, None)
        return scored if isinstance(scored, Response) else (scored.loaded, scored.outputs)

    @app.post(
        "/predict",
        summary='Predict one item, or a batch as {"items": [...]}',
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"oneOf": [_ref(spec.item_schema), _ref(batch_model)]}}},
            }
        },
        responses={
            200: {
                "description": "One answer, or one per item of a batch",
                "content": {"application/json": {"schema": {"oneOf": [_ref(answer), _ref(answers)]}}},
            },
            **error_responses(413, 415, 422, 503),
        },
    )
    async def predict(request: Request) -> Response:
        read = await read_body(request, spec.upload_field is not None)
        if isinstance(read, Response):
            return read
        body, upload = read
        if upload:
            parsed = await _uploaded_items(request, body, spec, item_adapter)
            if isinstance(parsed, Response):
                return parsed
            items, batch = parsed
        else:
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                return error_response(422, f"body: invalid JSON ({exc})")
            batch = isinstance(payload, dict) and "items" in payload
            try:  # strict: `true` or "1656" is not a number; unknown keys are refused at every level
                items = (
                    batch_model.model_validate_json(body, strict=True).items
                    if batch
                    else [item_adapter.validate_json(body, strict=True)]
                )
            except ValidationError as exc:
                summary, details = field_errors(exc)
                return error_response(422, summary, details)
        scored = await score_request(items, request)
        if isinstance(scored, Response):
            return scored
        version, rid = scored.loaded.version, scored.request_id
        headers = {"x-model-version": version, "x-request-id": rid, "x-model-arm": scored.arm}
        if batch:
            return ORJSONResponse(
                {"model_version": version, "request_id": rid, "predictions": scored.outputs}, headers=headers
            )
        return ORJSONResponse({"model_version": version, "request_id": rid, **scored.outputs[0]}, headers=headers)

    open_inference.add_routes(
        app,
        model_name=spec.model_name,
        item_schema=spec.item_schema,
        max_rows=spec.max_batch,
        current=lambda: holder.current,
        unavailable=holder.unavailable,
        read_body=read_body,
        score=score,
    )

    arms_module.add_routes(app, arms, authorised=authorised, errors=error_responses, read_body=read_body)

    if spec.page is not None:
        page = spec.page

        @app.get("/", include_in_schema=False)
        async def home() -> HTMLResponse:
            return HTMLResponse(page)

    @app.get("/health", summary="The process is up", response_model=Health)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="A model is loaded", responses={200: {"model": Ready}, **error_responses(503)})
    async def ready() -> Response:
        loaded = holder.current
        if loaded is None:
            return error_response(503, "not ready: " + holder.unavailable())
        answer = {"status": "ready", "model_version": loaded.version, "served_from": loaded.metadata.get("served_from")}
        if loaded.metadata.get("registry"):
            answer["registry"] = loaded.metadata["registry"]
        return ORJSONResponse(answer)

    @app.get(
        "/metadata",
        summary="The served model: name, version, run, training data, metrics",
        responses={200: {"model": Metadata}, **error_responses(503)},
    )
    async def metadata() -> Response:
        loaded = holder.current
        if loaded is None:
            return error_response(503, "no model loaded: " + holder.unavailable())
        served = {"fastpath": vars(loaded.fastpath)} if loaded.fastpath is not None else {}
        metadata = {"model_name": spec.model_name, **loaded.metadata, **served}
        return ORJSONResponse(orjson.loads(mask_credentials(orjson.dumps(metadata).decode())))

    @app.get(
        "/metrics",
        summary="Prometheus metrics (text exposition format)",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text format",
                "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            }
        },
    )
    async def prometheus() -> Response:
        _refresh_drift()
        await run_in_threadpool(arms.refresh_online_metrics)
        if state.predlog is not None:
            log_dropped.set(state.predlog.dropped)
            log_written.set(state.predlog.written)
            log_queued.set(state.predlog.queued)
            log_errors.set(state.predlog.write_errors)
        batcher = holder.current.batcher if holder.current is not None else None
        if batcher is not None:
            batch_calls.set(batcher.batches)
            batch_items.set(sum(batcher.sizes) / len(batcher.sizes) if batcher.sizes else 0.0)
        return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)

    def _refresh_drift() -> None:
        path = spec.drift_report
        if path is None or not path.exists() or path.stat().st_mtime == state.drift_mtime:
            return
        state.drift_mtime = path.stat().st_mtime
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
            loaded = holder.current
            if loaded is None:
                return error_response(503, "no model loaded: " + holder.unavailable())
            return ORJSONResponse(describe(loaded.predictor))

        app.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            summary=f"{path.strip('/')} of the served model",
            responses={
                200: {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                **error_responses(503),
            },
        )

    for path, describe in spec.extra_get.items():
        add_extra_get(path, describe)

    @app.post(
        "/admin/reload",
        summary="Switch to the current @champion without a restart",
        responses={
            200: {"model": Reloaded},
            403: {"model": ErrorBody, "description": "Admin token missing or wrong"},
            **error_responses(503),
        },
    )
    async def reload(request: Request) -> Response:
        if not authorised(request):
            return error_response(403, "x-admin-token header missing or wrong")
        async with holder.lock:
            previous = holder.current.version if holder.current else None
            try:
                loaded = await run_in_threadpool(holder.load)
            except Exception as exc:  # noqa: BLE001 - keep serving the old model
                log.error("reload failed", extra={"reason": failure_detail(exc)})
                return error_response(503, f"reload failed, still serving {previous}: {failure_message(exc)}")
            await holder.install(loaded)
            wants_challenger = arms.router.mode != "champion" or holder.challenger is not None
            if wants_challenger and not await holder.load_challenger_now():  # promoted: no @challenger now
                holder.challenger = None
                arms.set_mode("champion", None)
        return ORJSONResponse({"status": "reloaded", "previous_version": previous, "model_version": loaded.version})

    return app


def _media_type(request: Request, uploads: bool) -> tuple[str, bool, str | None]:
    """The body's media type, whether it is an upload, and why it is refused (415), if it is."""
    header = request.headers.get("content-type", "application/json")
    media, _, params = header.partition(";")
    media = media.strip().lower()
    upload = media == "multipart/form-data" and uploads
    accepted = "application/json" + (" or multipart/form-data" if uploads else "")
    if media != "application/json" and not media.endswith("+json") and not upload:
        return media, upload, f"body must be {accepted}, not {media}"
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return media, upload, f"compressed bodies (Content-Encoding: {encoding}) are not accepted: send plain {media}"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            return media, upload, f"body must be UTF-8 encoded, not charset={charset}"
    return media, upload, None


_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _not_utf8(body: bytes | bytearray) -> str | None:
    """Why a JSON body is refused as not UTF-8 (415): a UTF-16/32 byte-order mark or NUL bytes."""
    if body.startswith(_UTF16_32_BOMS) or b"\x00" in body[:4]:
        return "body must be UTF-8 encoded JSON (this looks like UTF-16 or UTF-32)"
    return None


UPLOAD_FIELDS = ("file", "files")


async def _uploaded_items(
    request: Request, body: bytes, spec: ServingSpec, item_adapter: TypeAdapter[Any]
) -> tuple[list[Any], bool] | Response:
    """The items of a multipart body: one per uploaded file (``file`` once, or ``files`` many times)."""
    import base64

    from starlette.datastructures import UploadFile
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def replay() -> Any:
        yield body

    try:
        form = await MultiPartParser(
            request.headers, replay(), max_files=spec.max_batch, max_fields=len(UPLOAD_FIELDS) * spec.max_batch
        ).parse()
    except MultiPartException as exc:
        return error_response(422, f"body: invalid multipart form ({exc.message})")
    parts = [(name, value) for name in UPLOAD_FIELDS for value in form.getlist(name)]
    if not parts:
        return error_response(
            422, "file: no file uploaded (send it as the multipart field `file`, or several as `files`)"
        )
    items = []
    for index, (name, value) in enumerate(parts):
        where = name if len(parts) == 1 else f"files.{index}"
        if not isinstance(value, UploadFile):
            return error_response(422, f"{where}: expected an uploaded file, got a text field")
        data = await value.read()
        try:
            items.append(item_adapter.validate_python({spec.upload_field: base64.b64encode(data).decode()}))
        except ValidationError as exc:
            summary, details = field_errors(exc, [where])
            return error_response(422, summary, details)
    await form.close()
    return items, len(parts) > 1


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _document_predict(app: FastAPI, model_name: str, *models: type[BaseModel]) -> None:
    """Put the request and answer models (and what they nest) into the document's components, so
    every ``$ref`` resolves from the document root."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _, defs = models_json_schema(
                [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
            )
            document.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            open_inference.name_the_model(document, model_name)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class _RequestMetrics:
    """Request counts and latency histograms per endpoint (its route template), method and status
    code: the metrics prometheus-fastapi-instrumentator records, under the same names and labels.

    A plain ASGI middleware that reads the route the router already matched (``scope["route"]``)
    costs a few microseconds a request; the instrumentator matched every route again and cost ~30 µs
    (a quarter of a compiled model's whole request, measured in-process).
    """

    BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)

    def __init__(self, app: Any, registry: CollectorRegistry) -> None:
        self.app = app
        labels = ("handler", "method", "status")
        self.count = Counter(
            "http_requests_total", "Requests by endpoint, method and status", labels, registry=registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Request latency by endpoint, method and status",
            labels,
            buckets=self.BUCKETS,
            registry=registry,
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            handler = getattr(scope.get("route"), "path", None) or "none"  # "none": no route matched
            labels = (handler, scope["method"], str(status))
            self.count.labels(*labels).inc()
            self.latency.labels(*labels).observe(time.perf_counter() - start)


def _offline_docs(app: FastAPI, title: str) -> None:
    """Swagger UI at /docs from the assets packaged in ``swagger-ui-py`` (works with no network)."""
    from importlib.resources import files

    assets = "/docs-assets"
    app.mount(assets, StaticFiles(directory=str(files("swagger_ui") / "static")), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} - API docs",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
        )


CONFIG_ENV = "MLCORE_SERVE_CONFIG"  # the resolved config every worker of a multi-worker server builds from


def worker_config_path(default: str | Path) -> Path:
    """The config a worker builds its app from: the serving command's resolved config, else ``default``."""
    return Path(os.environ.get(CONFIG_ENV) or default)


def run_workers(factory: str, config: Any, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Serve the app factory ``factory`` ("module:function") in ``workers`` processes.

    Each worker process imports the factory afresh; it finds this command's resolved ``config``
    (overrides included) through ``CONFIG_ENV``, so every worker serves with the same settings as
    a single-process server would.
    """
    import uvicorn
    from omegaconf import OmegaConf

    from mlcore.foundation.logs import configure_json_logging

    configure_json_logging(log_level)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="serve-config-", delete=False) as fh:
        fh.write(OmegaConf.to_yaml(config, resolve=True))
    os.environ[CONFIG_ENV] = fh.name
    try:
        uvicorn.run(
            factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_config=None,
            **ClientLimits.from_config(config.serve).uvicorn_settings(),
        )
    finally:
        os.environ.pop(CONFIG_ENV, None)
        Path(fh.name).unlink(missing_ok=True)


def run(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "info") -> None:
    """Serve ``app`` with uvicorn (uvloop, httptools with deadlines for slow clients, no access log)."""
    import uvicorn

    from mlcore.foundation.logs import configure_json_logging

    configure_json_logging(log_level)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    spec: ServingSpec = app.state.serving.holder.spec
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        log_level=log_level,
        **spec.client_limits.uvicorn_settings(),
    )
