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

Where each part lives: ``spec`` (what is served), ``holder`` (the loaded model), ``state`` (what
routes reach through ``ServingDep``), ``routes/`` (predict, ops, admin), ``arms`` (feedback and
rollout), ``open_inference`` (the v2 protocol), ``body`` (reading bodies), ``errors`` (the one
error shape), ``metrics``, ``docs`` and ``server`` (running it). This module wires them together.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from mlcore.serving.arms import Arms
from mlcore.serving.docs import document_models, offline_docs
from mlcore.serving.errors import HTTPError, ORJSONResponse, UnexpectedErrors, error_response, render
from mlcore.serving.holder import Loaded, ModelHolder, ModelVersionHeader
from mlcore.serving.metrics import RequestMetrics, ServingMetrics
from mlcore.serving.open_inference import InferenceRequest
from mlcore.serving.origin import CrossOriginGuard
from mlcore.serving.predictor import InputError, Predictor, execution_of
from mlcore.serving.predlog import PredictionLog
from mlcore.serving.routes import admin, explain, open_inference, ops, predict, rollout
from mlcore.serving.server import run, run_workers, worker_config_path
from mlcore.serving.spec import ServingSpec
from mlcore.serving.state import ServingState

log = logging.getLogger("mlcore.serving.app")
__all__ = [
    "InputError",
    "Loaded",
    "ModelHolder",
    "Predictor",
    "ServingSpec",
    "ServingState",
    "create_app",
    "run",
    "run_workers",
    "worker_config_path",
]


def create_app(spec: ServingSpec) -> FastAPI:
    """The app serving ``spec``: state, routers, middleware and one handler for unexpected errors."""
    metrics = ServingMetrics()
    holder = ModelHolder(spec, lambda previous, loaded: model_installed(spec, metrics, previous, loaded))
    registry_uri = spec.tracking_uri if spec.prefer_registry else None
    arms = Arms(
        spec.rollout, holder, metrics.registry, spec.model_name, spec.feedback_kind, registry_uri, spec.log_raw_inputs
    )
    state = ServingState(spec, holder, metrics, arms, admin.admin_token(spec))
    app = FastAPI(
        title=spec.title, lifespan=lifespan, default_response_class=ORJSONResponse, docs_url=None, redoc_url=None
    )
    app.state.serving = state
    app.add_middleware(UnexpectedErrors)  # innermost: a route's crash is a 500 the others see
    app.add_middleware(ModelVersionHeader, holder=holder)
    app.add_middleware(CrossOriginGuard, allowed=spec.allowed_origins)  # 403 before any route
    app.add_middleware(RequestMetrics, registry=metrics.registry)
    app.add_exception_handler(HTTPError, render)  # every error answer raised on the request path
    app.add_exception_handler(Exception, unexpected)  # a crash in the middleware itself
    offline_docs(app, spec.title)
    models = predict.PredictModels.of(spec)
    explained = explain.ExplainModels.of(spec) if spec.explains else None
    extra = (explained.one, explained.batch) if explained is not None else ()
    document_models(app, spec, spec.item_schema, models.batch, models.answer, models.answers, InferenceRequest, *extra)
    app.include_router(predict.router(spec, models))
    if explained is not None:  # only where the predictor explains (ServedModel.explains)
        app.include_router(explain.router(spec, models, explained))
    app.include_router(open_inference.router(spec))
    app.include_router(rollout.router(spec.feedback_kind))
    app.include_router(ops.router(spec))
    app.include_router(admin.router())
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the prediction log, load the model and the arms; at shutdown close them and remove this
    process's private copies of the registry's models."""
    state: ServingState = app.state.serving
    if state.spec.prediction_log is not None:
        state.predlog = PredictionLog(state.spec.prediction_log, durable=state.spec.log_durable)
    state.arms.open(state.predlog)
    await state.holder.start()
    await state.arms.start()
    yield
    await state.arms.stop()
    await state.holder.stop()
    if state.predlog is not None:
        state.predlog.close()
    shutil.rmtree(state.spec.cache_dir, ignore_errors=True)
    shutil.rmtree(state.holder.challenger_cache, ignore_errors=True)


def model_installed(spec: ServingSpec, metrics: ServingMetrics, previous: Loaded | None, loaded: Loaded) -> None:
    metrics.model_installed(spec.model_name, previous, loaded)
    log.info(
        "model loaded",
        extra={
            "model_name": spec.model_name,
            "version": loaded.version,
            "execution": execution_of(loaded.predictor),
            "fastpath": vars(loaded.fastpath) if loaded.fastpath is not None else None,
        },
    )


async def unexpected(_: Request, exc: Exception) -> ORJSONResponse:
    log.exception("unhandled error")
    return error_response(500, f"internal error: {type(exc).__name__}")
