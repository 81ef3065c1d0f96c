"""The Open Inference Protocol (KServe v2 REST) beside the suite's own ``/predict``.

Tensors map to a project's request items and answers by name, one row per item (shape ``[N]``):

- inputs: one tensor per field of the item schema. ``float`` fields are ``FP64`` (any ``FP*`` or
  ``INT*`` tensor is accepted), ``int`` fields ``INT64``, ``bool`` fields ``BOOL``, text, dates
  and choices ``BYTES``; a field holding a structure (a list of transactions, ...) is ``BYTES``
  with one JSON document per item. Optional fields may be left out.
- outputs: one tensor per key of the answers (the same keys as ``/predict``'s), typed the same
  way from the values; lists and objects are ``BYTES`` JSON.

``GET /v2/models/<name>`` lists the tensors; ``POST /v2/models/<name>/infer`` scores through the
same path as ``/predict`` (validation, micro-batching, prediction log, metrics). The JSON
encoding of tensors is supported, not the binary-data extension (send ``binary_data=False`` from
tritonclient). Errors are ``{"error": ...}`` with 400 (bad request), 404 (unknown model or
version) or 503 (no model).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import types
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"
]
NUMBER_TYPES = {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64"}
INTEGER_TYPES = {t for t in NUMBER_TYPES if "INT" in t}
PLATFORM = "mlcore"


class TensorMetadata(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int] = Field(description="-1: one row per item.")
    optional: bool = False
    json_encoded: bool = Field(default=False, description="BYTES holding one JSON document per item.")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class Live(BaseModel):
    live: bool


class Ready(BaseModel):
    ready: bool


class RequestInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    shape: list[int] = Field(min_length=1, max_length=2)
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any]


class RequestOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: Datatype
    data: list[Any]


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[ResponseOutput]


class ProtocolError(BaseModel):
    error: str


class BadTensors(ValueError):
    """A request the protocol layer refuses (400)."""


def _scalar_type(annotation: Any) -> tuple[Datatype, bool, bool]:
    """(datatype, json_encoded, optional) of a field's annotation."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _scalar_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            return "BYTES", True, optional
        datatype, encoded, _ = _scalar_type(args[0])
        return datatype, encoded, optional
    if origin is Literal:
        values = typing.get_args(annotation)
        return ("BYTES", False, False) if all(isinstance(v, str) for v in values) else ("BYTES", True, False)
    if annotation is bool:
        return "BOOL", False, False
    if annotation is int:
        return "INT64", False, False
    if annotation is float:
        return "FP64", False, False
    if annotation is str or annotation in (dt.date, dt.datetime):
        return "BYTES", False, False
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "BYTES", False, False
    return "BYTES", True, optional


def input_tensors(item_schema: type[BaseModel]) -> list[TensorMetadata]:
    tensors = []
    for name, field in item_schema.model_fields.items():
        datatype, encoded, optional = _scalar_type(field.annotation)
        tensors.append(
            TensorMetadata(
                name=name,
                datatype=datatype,
                shape=[-1],
                optional=optional or not field.is_required(),
                json_encoded=encoded,
            )
        )
    return tensors


def _value_type(value: Any) -> tuple[Datatype, bool]:
    if isinstance(value, bool):
        return "BOOL", False
    if isinstance(value, int):
        return "INT64", False
    if isinstance(value, float):
        return "FP64", False
    if isinstance(value, str):
        return "BYTES", False
    return "BYTES", True


def output_tensors(answers: Sequence[Mapping[str, Any]]) -> list[TensorMetadata]:
    """The output tensors of a set of answers (from the keys and values of the first)."""
    first = answers[0] if answers else {}
    tensors = []
    for name, value in first.items():
        datatype, encoded = _value_type(value)
        if datatype == "INT64" and any(isinstance(a.get(name), float) for a in answers):
            datatype = "FP64"
        tensors.append(TensorMetadata(name=name, datatype=datatype, shape=[-1], json_encoded=encoded))
    return tensors


def items_from_tensors(
    request: InferenceRequest, inputs: Sequence[TensorMetadata], max_rows: int
) -> list[dict[str, Any]]:
    """One request item per row of the input tensors, at most ``max_rows`` (``BadTensors`` says
    what is wrong)."""
    known = {t.name: t for t in inputs}
    rows: int | None = None
    columns: dict[str, list[Any]] = {}
    for tensor in request.inputs:
        meta = known.get(tensor.name)
        if meta is None:
            raise BadTensors(f"input {tensor.name!r} is not an input of this model; inputs: {sorted(known)}")
        if tensor.name in columns:
            raise BadTensors(f"input {tensor.name!r} is given twice")
        if any(d < 0 for d in tensor.shape) or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise BadTensors(f"input {tensor.name!r}: shape must be [N] or [N, 1], got {tensor.shape}")
        values = _flat(tensor.data)
        if math.prod(tensor.shape) != len(values):
            raise BadTensors(
                f"input {tensor.name!r}: shape {tensor.shape} needs {math.prod(tensor.shape)} values, got {len(values)}"
            )
        if rows is not None and tensor.shape[0] != rows:
            raise BadTensors(f"input {tensor.name!r} has {tensor.shape[0]} rows, other inputs {rows}")
        if tensor.shape[0] > max_rows:
            raise BadTensors(f"input {tensor.name!r} has {tensor.shape[0]} rows: at most {max_rows} (serve.max_batch)")
        rows = tensor.shape[0]
        columns[tensor.name] = [_decode(tensor, meta, value) for value in values]
    missing = [t.name for t in inputs if not t.optional and t.name not in columns]
    if missing:
        raise BadTensors(f"missing input tensor(s) {missing}")
    if not rows:
        raise BadTensors("inputs have no rows")
    return [{name: values[i] for name, values in columns.items()} for i in range(rows)]


def _flat(data: list[Any]) -> list[Any]:
    """Row-major values of a tensor given flat (``[1, 2]``) or nested (``[[1], [2]]``)."""
    return [v for item in data for v in (_flat(item) if isinstance(item, list) else [item])]


def _decode(tensor: RequestInput, meta: TensorMetadata, value: Any) -> Any:
    given, expected = tensor.datatype, meta.datatype
    where = f"input {tensor.name!r}"
    if expected == "BYTES":
        if given != "BYTES" or not isinstance(value, str):
            raise BadTensors(f"{where}: expected BYTES (text), got {given}")
        if meta.json_encoded:
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                raise BadTensors(f"{where}: each value must be a JSON document ({exc})") from None
        return value
    if expected == "BOOL":
        if given != "BOOL" or not isinstance(value, bool):
            raise BadTensors(f"{where}: expected BOOL, got {given}")
        return value
    if given not in NUMBER_TYPES or isinstance(value, bool) or not isinstance(value, int | float):
        raise BadTensors(f"{where}: expected a number tensor ({expected}), got {given}")
    if expected in INTEGER_TYPES:
        if given not in INTEGER_TYPES or (isinstance(value, float) and not value.is_integer()):
            raise BadTensors(f"{where}: expected whole numbers ({expected}), got {given} {value!r}")
        return int(value)
    return float(value)


def tensors_from_answers(
    answers: Sequence[Mapping[str, Any]], requested: Sequence[RequestOutput] | None
) -> list[ResponseOutput]:
    tensors = output_tensors(answers)
    if requested:
        names = {t.name for t in tensors}
        unknown = [r.name for r in requested if r.name not in names]
        if unknown:
            raise BadTensors(f"output(s) {unknown} are not outputs of this model; outputs: {sorted(names)}")
        wanted = {r.name for r in requested}
        tensors = [t for t in tensors if t.name in wanted]
    out = []
    for tensor in tensors:
        values = [a.get(tensor.name) for a in answers]
        data = [orjson.dumps(v).decode() for v in values] if tensor.json_encoded else values
        out.append(ResponseOutput(name=tensor.name, shape=[len(values)], datatype=tensor.datatype, data=data))
    return out


def add_routes(
    app: FastAPI,
    *,
    model_name: str,
    item_schema: type[BaseModel],
    max_rows: int,
    current: Callable[[], Any],
    unavailable: Callable[[], str],
    read_body: Callable[[Request, bool], Awaitable[tuple[bytes, bool] | Response]],
    score: Callable[[Sequence[Any]], Awaitable[tuple[Any, list[dict[str, Any]]] | Response]],
) -> None:
    """The v2 endpoints on ``app``; ``current()`` is the loaded model (``.version``, ``.answer``),
    ``score`` the scoring path ``/predict`` uses (logged and counted)."""
    inputs = input_tensors(item_schema)
    item_adapter = TypeAdapter(item_schema)
    request_adapter = TypeAdapter(InferenceRequest)
    example = (item_schema.model_config.get("json_schema_extra") or {}).get("examples", [None])[0]  # type: ignore[union-attr]
    answer_tensors: dict[str, list[TensorMetadata]] = {}  # per model version (not logged, not counted)
    errors = {
        400: {"model": ProtocolError, "description": "A request the protocol or the model's inputs refuse"},
        404: {"model": ProtocolError, "description": "No such model or version"},
        503: {"model": ProtocolError, "description": "No model loaded yet"},
    }

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def served(name: str, version: str | None) -> Any | JSONResponse:
        if name != model_name:
            return error(404, f"model {name!r} is not served here; this server serves {model_name!r}")
        loaded = current()
        if loaded is None:
            return error(503, "no model loaded: " + unavailable())
        if version is not None and version != loaded.version:
            return error(404, f"version {version!r} of {name!r} is not served; serving version {loaded.version!r}")
        return loaded

    @app.get("/v2/health/live", tags=["open inference protocol"], response_model=Live)
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get(
        "/v2/health/ready",
        tags=["open inference protocol"],
        responses={200: {"model": Ready}, 400: {"model": Ready, "description": "Not ready"}},
    )
    async def ready() -> JSONResponse:
        return JSONResponse({"ready": current() is not None}, status_code=200 if current() is not None else 400)

    @app.get("/v2", tags=["open inference protocol"], response_model=ServerMetadata)
    async def server_metadata() -> dict[str, Any]:
        return {"name": PLATFORM, "version": "2", "extensions": []}

    async def model_metadata(name: str, version: str | None = None) -> Response:
        loaded = served(name, version)
        if isinstance(loaded, JSONResponse):
            return loaded
        if loaded.version not in answer_tensors:  # from the model's own answer to the schema's example
            answers = await loaded.answer([item_adapter.validate_python(example)]) if example is not None else []
            answer_tensors.clear()
            answer_tensors[loaded.version] = output_tensors(answers)
        outputs = answer_tensors[loaded.version]
        body = ModelMetadata(
            name=model_name, versions=[loaded.version], platform=PLATFORM, inputs=inputs, outputs=outputs
        )
        return JSONResponse(body.model_dump())

    async def model_ready(name: str, version: str | None = None) -> Response:
        loaded = served(name, version)
        if isinstance(loaded, JSONResponse):
            return JSONResponse({"ready": False}, status_code=loaded.status_code if loaded.status_code != 503 else 400)
        return JSONResponse({"ready": True})

    async def infer(request: Request, name: str, version: str | None = None) -> Response:
        loaded = served(name, version)
        if isinstance(loaded, JSONResponse):
            return loaded
        read = await read_body(request, False)
        if isinstance(read, Response):
            return read
        try:
            parsed = request_adapter.validate_json(read[0])
            items = [item_adapter.validate_python(row) for row in items_from_tensors(parsed, inputs, max_rows)]
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return error(400, f"{where}: {first['msg']}")
        except BadTensors as exc:
            return error(400, str(exc))
        scored = await score(items)
        if isinstance(scored, Response):
            if scored.status_code == 503:
                return scored
            return error(400, orjson.loads(bytes(scored.body)).get("error", "invalid input"))
        answered, answers = scored
        try:
            outputs = tensors_from_answers(answers, parsed.outputs)
        except BadTensors as exc:
            return error(400, str(exc))
        body = InferenceResponse(model_name=model_name, model_version=answered.version, id=parsed.id, outputs=outputs)
        return JSONResponse(body.model_dump())

    tag = ["open inference protocol"]
    ready_answers = {
        200: {"model": Ready},
        400: {"model": Ready, "description": "Not ready"},
        404: {"model": Ready, "description": "No such model or version"},
    }
    infer_answers = {
        200: {"model": InferenceResponse},
        413: {"model": ProtocolError, "description": "Body too large"},
        415: {"model": ProtocolError, "description": "Body is not UTF-8 JSON"},
        **errors,
    }
    infer_body = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}},
        }
    }

    async def latest_metadata(name: str) -> Response:
        return await model_metadata(name)

    async def latest_ready(name: str) -> Response:
        return await model_ready(name)

    async def latest_infer(request: Request, name: str) -> Response:
        return await infer(request, name)

    async def version_metadata(name: str, version: str) -> Response:
        return await model_metadata(name, version)

    async def version_ready(name: str, version: str) -> Response:
        return await model_ready(name, version)

    async def version_infer(request: Request, name: str, version: str) -> Response:
        return await infer(request, name, version)

    routes = (
        ("/v2/models/{name}", latest_metadata, latest_ready, latest_infer),
        ("/v2/models/{name}/versions/{version}", version_metadata, version_ready, version_infer),
    )
    for prefix, metadata_of, ready_of, infer_with in routes:
        app.add_api_route(
            prefix, metadata_of, methods=["GET"], tags=tag, responses={200: {"model": ModelMetadata}, **errors}
        )
        app.add_api_route(f"{prefix}/ready", ready_of, methods=["GET"], tags=tag, responses=ready_answers)
        app.add_api_route(
            f"{prefix}/infer", infer_with, methods=["POST"], tags=tag, openapi_extra=infer_body, responses=infer_answers
        )


def name_the_model(document: dict[str, Any], model_name: str) -> None:
    """In the OpenAPI document, the ``{name}`` of the v2 paths can only be the model served
    (clients and fuzzers then address it; any other name gets 404 at run time)."""
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/v2/models/{name}"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == "name":
                    parameter["schema"] = {**parameter.get("schema", {}), "enum": [model_name]}
