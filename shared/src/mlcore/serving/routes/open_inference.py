"""The Open Inference Protocol's (KServe v2) routes: health, server and model metadata, model
readiness and ``infer``, for the served model's latest version and by version. The tensors are
mapped to items and answers by ``mlcore.serving.open_inference``; ``infer`` scores through the same
path as ``/predict`` (validation, micro-batching, prediction log, metrics)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter, ValidationError

from mlcore.serving.body import read_body, strict_json
from mlcore.serving.errors import HTTPError, Invalid, Unavailable
from mlcore.serving.open_inference import (
    PLATFORM,
    BadTensors,
    InferenceRequest,
    InferenceResponse,
    Live,
    ModelMetadata,
    ProtocolError,
    ReadyV2,
    ServerMetadata,
    TensorMetadata,
    input_tensors,
    items_from_tensors,
    output_tensors,
    tensors_from_answers,
)
from mlcore.serving.routes.predict import score_request
from mlcore.serving.spec import ServingSpec
from mlcore.serving.state import ServingDep, ServingState

TAGS: list[str | Any] = ["open inference protocol"]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ProtocolError, "description": "A request the protocol or the model's inputs refuse"},
    404: {"model": ProtocolError, "description": "No such model or version"},
    503: {"model": ProtocolError, "description": "No model loaded yet"},
}
SERVER_READY_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": ReadyV2},
    400: {"model": ReadyV2, "description": "Not ready"},
}
READY_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": ReadyV2},
    400: {"model": ReadyV2, "description": "Not ready"},
    404: {"model": ReadyV2, "description": "No such model or version"},
}
INFER_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": InferenceResponse},
    413: {"model": ProtocolError, "description": "Body too large"},
    415: {"model": ProtocolError, "description": "Body is not UTF-8 JSON"},
    **ERRORS,
}
INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}},
    }
}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class OpenInference:
    """The v2 model endpoints of one served model (its tensors, and the answers' tensors per version)."""

    def __init__(self, spec: ServingSpec) -> None:
        self.model_name, self.max_rows = spec.model_name, spec.max_batch
        self.inputs = input_tensors(spec.item_schema)
        self.item_adapter = TypeAdapter(spec.item_schema)
        self.request_adapter = TypeAdapter(InferenceRequest)
        extra = spec.item_schema.model_config.get("json_schema_extra") or {}
        self.example = extra.get("examples", [None])[0]  # type: ignore[union-attr]
        self.answer_tensors: dict[str, list[TensorMetadata]] = {}  # per model version (not logged, not counted)

    def served(self, state: ServingState, name: str, version: str | None) -> Any | JSONResponse:
        """The loaded model when ``name`` (and ``version``) is what is served, else the 404/503 answer."""
        if name != self.model_name:
            return error(404, f"model {name!r} is not served here; this server serves {self.model_name!r}")
        loaded = state.holder.current
        if loaded is None:
            return error(503, "no model loaded: " + state.holder.unavailable())
        if version is not None and version != loaded.version:
            return error(404, f"version {version!r} of {name!r} is not served; serving version {loaded.version!r}")
        return loaded

    async def metadata(self, state: ServingState, name: str, version: str | None) -> Response:
        loaded = self.served(state, name, version)
        if isinstance(loaded, JSONResponse):
            return loaded
        if loaded.version not in self.answer_tensors:  # from the model's own answer to the schema's example
            example = self.example
            answers = await loaded.answer([self.item_adapter.validate_python(example)]) if example is not None else []
            self.answer_tensors.clear()
            self.answer_tensors[loaded.version] = output_tensors(answers)
        outputs = self.answer_tensors[loaded.version]
        body = ModelMetadata(
            name=self.model_name, versions=[loaded.version], platform=PLATFORM, inputs=self.inputs, outputs=outputs
        )
        return JSONResponse(body.model_dump())

    def ready(self, state: ServingState, name: str, version: str | None) -> Response:
        loaded = self.served(state, name, version)
        if isinstance(loaded, JSONResponse):
            return JSONResponse({"ready": False}, status_code=loaded.status_code if loaded.status_code != 503 else 400)
        return JSONResponse({"ready": True})

    async def infer(self, state: ServingState, request: Request, name: str, version: str | None) -> Response:
        loaded = self.served(state, name, version)
        if isinstance(loaded, JSONResponse):
            return loaded
        body, _ = await read_body(request, state.spec.max_body_bytes, False)
        try:
            strict_json(body)  # standard JSON, each key once
            parsed = self.request_adapter.validate_json(body, strict=True)
            rows = items_from_tensors(parsed, self.inputs, self.max_rows)
            items = [self.item_adapter.validate_python(row) for row in rows]
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return error(400, f"{where}: {first['msg']}")
        except (BadTensors, Invalid) as exc:
            return error(400, str(exc))
        try:
            scored = await score_request(state, items, None)
        except Unavailable:
            raise
        except HTTPError as exc:  # input the model cannot score: the protocol's 400
            return error(400, exc.message)
        try:
            outputs = tensors_from_answers(scored.outputs, parsed.outputs)
        except BadTensors as exc:
            return error(400, str(exc))
        body = InferenceResponse(
            model_name=self.model_name, model_version=scored.loaded.version, id=parsed.id, outputs=outputs
        )
        return JSONResponse(body.model_dump())


def router(spec: ServingSpec) -> APIRouter:
    routes = APIRouter(tags=TAGS)
    oip = OpenInference(spec)

    @routes.get("/v2/health/live", response_model=Live)
    async def live() -> dict[str, bool]:
        return {"live": True}

    @routes.get("/v2/health/ready", responses=SERVER_READY_ANSWERS)
    async def ready(state: ServingDep) -> JSONResponse:
        up = state.holder.current is not None
        return JSONResponse({"ready": up}, status_code=200 if up else 400)

    @routes.get("/v2", response_model=ServerMetadata)
    async def server_metadata() -> dict[str, Any]:
        return {"name": PLATFORM, "version": "2", "extensions": []}

    add_model_routes(routes, oip)
    return routes


def add_model_routes(routes: APIRouter, oip: OpenInference) -> None:
    """Metadata, readiness and infer of the latest version, then of a named version."""

    async def latest_metadata(name: str, state: ServingDep) -> Response:
        return await oip.metadata(state, name, None)

    async def latest_ready(name: str, state: ServingDep) -> Response:
        return oip.ready(state, name, None)

    async def latest_infer(request: Request, name: str, state: ServingDep) -> Response:
        return await oip.infer(state, request, name, None)

    async def version_metadata(name: str, version: str, state: ServingDep) -> Response:
        return await oip.metadata(state, name, version)

    async def version_ready(name: str, version: str, state: ServingDep) -> Response:
        return oip.ready(state, name, version)

    async def version_infer(request: Request, name: str, version: str, state: ServingDep) -> Response:
        return await oip.infer(state, request, name, version)

    for prefix, metadata_of, ready_of, infer_with in (
        ("/v2/models/{name}", latest_metadata, latest_ready, latest_infer),
        ("/v2/models/{name}/versions/{version}", version_metadata, version_ready, version_infer),
    ):
        routes.add_api_route(prefix, metadata_of, methods=["GET"], responses={200: {"model": ModelMetadata}, **ERRORS})
        routes.add_api_route(f"{prefix}/ready", ready_of, methods=["GET"], responses=READY_ANSWERS)
        routes.add_api_route(
            f"{prefix}/infer", infer_with, methods=["POST"], openapi_extra=INFER_BODY, responses=INFER_ANSWERS
        )
