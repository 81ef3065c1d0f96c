"""``POST /predict``: one item, or ``{"items": [...]}`` (at most ``max_batch``); JSON read strictly
(no coercion, unknown keys refused at every level), or uploaded files where the model takes them.
Answers come from the arm the rollout picks; every answer carries the model version and a request id."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from mlcore.serving import arms as arms_module
from mlcore.serving.body import read_body, strict_json, uploaded_items
from mlcore.serving.docs import ref
from mlcore.serving.errors import Invalid, ORJSONResponse, error_responses
from mlcore.serving.spec import ServingSpec
from mlcore.serving.state import ServingDep, ServingState

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # a client's own x-request-id is kept when it looks like this


@dataclass(frozen=True)
class PredictModels:
    """The request and answer models of ``/predict`` for one item schema."""

    item: type[BaseModel]
    batch: type[BaseModel]
    answer: type[BaseModel]
    answers: type[BaseModel]
    item_adapter: TypeAdapter[Any]

    @classmethod
    def of(cls, spec: ServingSpec) -> PredictModels:
        batch = create_model(
            "PredictBatch",
            __config__=ConfigDict(extra="forbid"),
            items=(list[spec.item_schema], Field(min_length=1, max_length=spec.max_batch)),  # type: ignore[valid-type]
        )
        request_id = (str, Field(description="Quote it in POST /feedback with the true outcome."))
        version = (str, Field(description="The model that answered."))
        answer = create_model("Prediction", __base__=spec.answer_schema, model_version=version, request_id=request_id)
        answers = create_model(
            "PredictionBatch",
            model_version=version,
            request_id=request_id,
            predictions=(list[spec.answer_schema], Field(description="One answer per item, in order.")),  # type: ignore[valid-type]
        )
        return cls(spec.item_schema, batch, answer, answers, TypeAdapter(spec.item_schema))


async def score_request(state: ServingState, items: Sequence[Any], request: Request | None) -> arms_module.Scored:
    """Answers to validated items from the arm the rollout picks (logged, counted); raises the 4xx/503 answer."""
    key = request.headers.get(state.spec.rollout.key_header) if request is not None else None
    given = request.headers.get("x-request-id") if request is not None else None
    request_id = given if given and REQUEST_ID.fullmatch(given) else None
    scored = await state.arms.score(items, key, request_id)
    state.metrics.items_total.inc(len(items))
    return scored


def parse_items(body: bytes, models: PredictModels) -> tuple[list[Any], bool]:
    """The items of a JSON body and whether it was a batch; raises the 422 answer naming the field."""
    payload = strict_json(body)  # standard JSON, each key once (422 otherwise)
    batch = isinstance(payload, dict) and "items" in payload
    try:  # strict: `true` or "1656" is not a number; unknown keys are refused at every level
        if batch:
            return models.batch.model_validate_json(body, strict=True).items, True  # type: ignore[attr-defined]
        return [models.item_adapter.validate_json(body, strict=True)], False
    except ValidationError as exc:
        raise Invalid.from_validation(exc) from None


async def request_items(request: Request, spec: ServingSpec, models: PredictModels) -> tuple[list[Any], bool]:
    """The validated items of a ``/predict``-shaped request (JSON, or uploaded files where the model
    takes them) and whether it was a batch; raises the 4xx answer naming the field."""
    body, upload = await read_body(request, spec.max_body_bytes, spec.upload_field is not None)
    if upload:
        return await uploaded_items(request, body, str(spec.upload_field), spec.max_batch, models.item_adapter)
    return parse_items(body, models)


def predict_bodies(spec: ServingSpec, models: PredictModels) -> dict[str, Any]:
    """The bodies ``POST /predict`` takes: JSON (one item or a batch); where the model takes files,
    also a multipart form of one ``file`` or several ``files`` (see ``body.upload_items``)."""
    bodies: dict[str, Any] = {"application/json": {"schema": {"oneOf": [ref(models.item), ref(models.batch)]}}}
    if spec.upload_field is not None:
        upload = {
            "type": "string",
            "format": "binary",
            "minLength": 1,
            "description": "A file the model reads (not empty).",
        }
        files = {"type": "array", "items": upload, "maxItems": spec.max_batch}
        form = {
            "type": "object",
            "description": "One file as `file`, or several as `files` (not both).",
            "properties": {"file": upload, "files": files},
            "additionalProperties": False,
            "anyOf": [  # an empty `files` is no part at all on the wire: it goes with `file`
                {"required": ["file"], "properties": {"files": {"maxItems": 0}}},
                {"required": ["files"], "properties": {"files": {"minItems": 1}}, "maxProperties": 1},
            ],
        }
        bodies["multipart/form-data"] = {"schema": form}
    return bodies


def router(spec: ServingSpec, models: PredictModels) -> APIRouter:
    routes = APIRouter()

    @routes.post(
        "/predict",
        summary='Predict one item, or a batch as {"items": [...]}',
        openapi_extra={"requestBody": {"required": True, "content": predict_bodies(spec, models)}},
        responses={
            200: {
                "description": "One answer, or one per item of a batch",
                "content": {"application/json": {"schema": {"oneOf": [ref(models.answer), ref(models.answers)]}}},
            },
            **error_responses(413, 415, 422, 503),
        },
    )
    async def predict(request: Request, state: ServingDep) -> Response:
        items, batch = await request_items(request, spec, models)
        scored = await score_request(state, items, request)
        version, rid = scored.loaded.version, scored.request_id
        headers = {"x-model-version": version, "x-request-id": rid, "x-model-arm": scored.arm}
        if batch:
            content = {"model_version": version, "request_id": rid, "predictions": scored.outputs}
            return ORJSONResponse(content, headers=headers)
        return ORJSONResponse({"model_version": version, "request_id": rid, **scored.outputs[0]}, headers=headers)

    return routes
