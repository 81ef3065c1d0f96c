"""The Open Inference Protocol (KServe v2 REST) beside the suite's own ``/predict``.

Tensors map to a project's request items and answers by name, one row per item (shape ``[N]``):

- inputs: one tensor per field of the item schema. ``float`` fields are ``FP64`` (any ``FP*`` or
  ``INT*`` tensor is accepted), ``int`` fields ``INT64``, ``bool`` fields ``BOOL``, text, dates
  and choices ``BYTES``; a field holding a structure (a list of transactions, ...) is ``BYTES``
  with one JSON document per item. Optional fields may be left out.
- outputs: one tensor per key of the answers (the same keys as ``/predict``'s), typed the same
  way from the values; lists and objects are ``BYTES`` JSON.

``GET /v2/models/<name>`` lists the tensors; ``POST /v2/models/<name>/infer`` (the routes are in
``mlcore.serving.routes.open_inference``) scores through the same path as ``/predict`` (validation, micro-batching, prediction log, metrics). The JSON
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
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from mlcore.serving.fields import WholeNumber

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


class ReadyV2(BaseModel):
    """Readiness in the v2 protocol (the suite's own ``/ready`` answers ``Ready``)."""

    ready: bool


class RequestInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    shape: list[WholeNumber] = Field(min_length=1, max_length=2)
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


def _json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an object" if isinstance(value, dict) else "an array"


def _decode(tensor: RequestInput, meta: TensorMetadata, value: Any) -> Any:
    given, expected = tensor.datatype, meta.datatype
    where = f"input {tensor.name!r}"
    if expected == "BYTES":
        if given != "BYTES":
            raise BadTensors(f"{where}: expected BYTES (text), got {given}")
        if not isinstance(value, str):
            raise BadTensors(f"{where}: BYTES values must be strings, got {_json_kind(value)} {value!r:.40}")
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


def _accepted_datatypes(expected: str) -> list[str]:
    """The datatypes ``_decode`` takes for an input of datatype ``expected``."""
    if expected in ("BYTES", "BOOL"):
        return [expected]
    return sorted(INTEGER_TYPES) if expected in INTEGER_TYPES else sorted(NUMBER_TYPES)


def _value_schema(meta: TensorMetadata) -> dict[str, Any]:
    scalar: dict[str, Any] = {
        "BYTES": {"type": "string"},
        "BOOL": {"type": "boolean"},
    }.get(meta.datatype, {"type": "integer" if meta.datatype in INTEGER_TYPES else "number"})
    if meta.json_encoded:
        scalar = {**scalar, "contentMediaType": "application/json"}
    return {"anyOf": [scalar, {"type": "array", "items": scalar, "minItems": 1, "maxItems": 1}]}


def describe_inputs(document: dict[str, Any], inputs: Sequence[TensorMetadata], max_rows: int) -> None:
    """In the OpenAPI document, an input tensor as this model takes it: one of its inputs by name,
    with the datatypes, shape (``[N]`` or ``[N, 1]``, N up to ``max_rows``) and values that input
    takes. (That the shape matches the values' count, and that all rows agree, JSON Schema cannot
    say: the server answers 400 for those.)"""
    schemas = document.get("components", {}).get("schemas", {})
    base = schemas.get("RequestInput")
    if base is None or not inputs:
        return
    rows = {"type": "integer", "minimum": 1, "maximum": max_rows}
    shape = {"type": "array", "prefixItems": [rows, {"const": 1}], "minItems": 1, "maxItems": 2, "items": False}
    variants = []
    for meta in inputs:
        properties = {
            **base["properties"],
            "name": {"const": meta.name},
            "datatype": {"enum": _accepted_datatypes(meta.datatype)},
            "shape": shape,
            "data": {"type": "array", "items": _value_schema(meta), "minItems": 1, "maxItems": max_rows},
        }
        variants.append({**base, "title": f"Input {meta.name}", "properties": properties})
    schemas["RequestInput"] = variants[0] if len(variants) == 1 else {"oneOf": variants, "title": "RequestInput"}
