"""The operations routes: ``GET /health`` (process up), ``/ready`` (a model loaded), ``/metadata``
(the served model), ``/metrics`` (Prometheus), the project's extra read-only endpoints (e.g.
``/segments``) and its page at ``/`` (e.g. an upload page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from mlcore.foundation.redact import mask_credentials
from mlcore.monitoring import metrics_file
from mlcore.serving.errors import ORJSONResponse, Unavailable, error_responses
from mlcore.serving.spec import ServingSpec
from mlcore.serving.state import ServingDep, ServingState


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


def router(spec: ServingSpec) -> APIRouter:
    routes = APIRouter()
    if spec.page is not None:
        page = spec.page

        @routes.get("/", include_in_schema=False)
        async def home() -> HTMLResponse:
            return HTMLResponse(page)

    @routes.get("/health", summary="The process is up", response_model=Health)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @routes.get("/ready", summary="A model is loaded", responses={200: {"model": Ready}, **error_responses(503)})
    async def ready(state: ServingDep) -> Response:
        loaded = state.holder.current
        if loaded is None:
            raise Unavailable("not ready: " + state.holder.unavailable())
        answer = {"status": "ready", "model_version": loaded.version, "served_from": loaded.metadata.get("served_from")}
        if loaded.metadata.get("registry"):
            answer["registry"] = loaded.metadata["registry"]
        return ORJSONResponse(answer)

    @routes.get(
        "/metadata",
        summary="The served model: name, version, run, training data, metrics",
        responses={200: {"model": Metadata}, **error_responses(503)},
    )
    async def metadata(state: ServingDep) -> Response:
        loaded = state.holder.current
        if loaded is None:
            raise Unavailable("no model loaded: " + state.holder.unavailable())
        served = {"fastpath": vars(loaded.fastpath)} if loaded.fastpath is not None else {}
        metadata = {"model_name": spec.model_name, **loaded.metadata, **served}
        return ORJSONResponse(orjson.loads(mask_credentials(orjson.dumps(metadata).decode())))

    @routes.get(
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
    async def prometheus(state: ServingDep) -> Response:
        return Response(await exposition(state), media_type=CONTENT_TYPE_LATEST)

    for path, describe in spec.extra_get.items():
        add_extra_get(routes, path, describe)
    return routes


async def exposition(state: ServingState) -> bytes:
    """The metrics in Prometheus's text format, the drift, log and batch figures read first; then
    the monitor job's own metrics file, when there is a valid one."""
    state.metrics.read_drift(state.spec.drift_report)
    await run_in_threadpool(state.arms.refresh_online_metrics)
    current = state.holder.current
    state.metrics.follow(state.predlog, current.batcher if current is not None else None)
    return generate_latest(state.metrics.registry) + metrics_file.read(state.spec.monitor_metrics)


def add_extra_get(routes: APIRouter, path: str, describe: Callable[[Any], Any]) -> None:
    """``GET path``: ``describe(predictor)`` of the served model, as JSON."""

    async def endpoint(state: ServingDep) -> Response:
        loaded = state.holder.current
        if loaded is None:
            raise Unavailable("no model loaded: " + state.holder.unavailable())
        return ORJSONResponse(describe(loaded.predictor))

    routes.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        summary=f"{path.strip('/')} of the served model",
        responses={
            200: {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
            **error_responses(503),
        },
    )
