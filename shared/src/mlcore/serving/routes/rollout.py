"""The rollout's routes: ``POST /feedback`` (the true outcome of an answered request, joined to the
prediction log), ``GET /rollout`` (champion, challenger, mode, guard rail and the online test so
far) and ``POST /admin/rollout`` (switch the mode and the challenger's share). The runtime they
drive is ``mlcore.serving.arms``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlcore.serving.body import read_body, strict_json
from mlcore.serving.docs import json_body
from mlcore.serving.errors import (
    ErrorBody,
    Forbidden,
    Invalid,
    NotFound,
    ORJSONResponse,
    Refused,
    Unavailable,
    error_responses,
)
from mlcore.serving.feedback import Conflict, FeedbackAccepted, UnknownRequest, feedback_model
from mlcore.serving.rollout import MODES
from mlcore.serving.state import AdminToken, ServingDep, ServingState

log = logging.getLogger("mlcore.serving.arms")


class RolloutChange(BaseModel):
    """``POST /admin/rollout``: the mode to switch to, and the challenger's share (canary, ab)."""

    model_config = ConfigDict(extra="forbid")
    mode: str = Field(json_schema_extra={"enum": list(MODES)}, description="champion | shadow | canary | ab | bandit")
    share: float | None = Field(default=None, ge=0.0, le=1.0, description="Challenger's share of requests")
    reload: bool = Field(default=False, description="Fetch @challenger again before switching")


class RolloutStatus(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())
    mode: str
    challenger_share: float
    guard_rail: str | None = Field(description="Why the guard rail cut the challenger off, if it did.")
    champion_version: str | None
    challenger_version: str | None
    challenger: str | None = Field(default=None, description="Why no challenger is loaded, if none is.")
    test: dict[str, Any] | None = Field(default=None, description="The running experiment judged so far.")


async def record_feedback(state: ServingState, given: Any, outcome_field: str) -> Response:
    """Store the outcome of an answered request (404: no such request, 409: another outcome stored)."""
    arms = state.arms
    if arms.store is None:
        raise Unavailable("feedback needs the prediction log: set serve.prediction_log")
    outcome = {outcome_field: getattr(given, outcome_field)}
    current = arms.holder.current
    labels = current.predictor.labels if current is not None else None
    if outcome_field == "label" and labels and outcome["label"] not in [str(x) for x in labels]:
        raise Invalid(
            f"label: {outcome['label']!r} is not one of the model's labels {list(labels)}",
            [{"field": "label", "msg": f"not one of {list(labels)}", "type": "enum"}],
        )
    try:
        status, version = await run_in_threadpool(arms.store.record, given.request_id, given.item, outcome)
    except UnknownRequest as exc:
        raise NotFound(str(exc)) from None
    except Conflict as exc:
        raise Refused(str(exc)) from None
    if status == "recorded":
        arms.feedback_total.labels(version).inc()
    return ORJSONResponse(
        {"status": status, "request_id": given.request_id, "item": given.item, "model_version": version}
    )


def add_feedback_route(routes: APIRouter, kind: str) -> None:
    """``POST /feedback`` for outcomes of ``kind`` (label, value or response)."""
    model = feedback_model(kind)
    (outcome_field,) = model.model_fields.keys() - {"request_id", "item"}

    @routes.post(
        "/feedback",
        summary="The true outcome of an answered request (joined to the prediction log)",
        openapi_extra=json_body(model),
        responses={
            200: {"model": FeedbackAccepted},
            404: {"model": ErrorBody, "description": "No answered request with this id (or no such item)"},
            409: {"model": ErrorBody, "description": "Feedback for this item is already stored with another outcome"},
            **error_responses(413, 415, 422, 503),
        },
    )
    async def feedback(request: Request, state: ServingDep) -> Response:
        body, _ = await read_body(request, state.spec.max_body_bytes, False)
        strict_json(body)  # standard JSON, each key once (422 otherwise)
        try:
            given = model.model_validate_json(body, strict=True)
        except ValidationError as exc:
            raise Invalid.from_validation(exc) from None
        return await record_feedback(state, given, outcome_field)


async def apply_rollout_change(state: ServingState, body: bytes) -> Response:
    """Switch the mode (and the challenger's share); 422 for a bad change, 409 without a challenger."""
    arms = state.arms
    strict_json(body)
    try:
        change = RolloutChange.model_validate_json(body)
    except ValidationError as exc:
        raise Invalid.from_validation(exc) from None
    if change.mode not in MODES:
        raise Invalid(
            f"mode: must be one of {', '.join(MODES)}",
            [{"field": "mode", "msg": f"one of {list(MODES)}", "type": "enum"}],
        )
    if change.mode != "champion" and not await arms.ensure_challenger(again=change.reload):
        raise Refused(f"mode {change.mode} needs a challenger: {arms.holder.challenger_error}")
    arms.set_mode(change.mode, change.share)
    log.info("rollout mode changed", extra=arms.router.describe())
    return ORJSONResponse(arms.describe())


def router(feedback_kind: str | None) -> APIRouter:
    routes = APIRouter()
    if feedback_kind is not None:
        add_feedback_route(routes, feedback_kind)

    @routes.get(
        "/rollout",
        summary="Champion, challenger, mode, guard rail and the online test so far",
        response_model=RolloutStatus,
    )
    async def rollout_status(state: ServingDep) -> Response:
        arms, answer = state.arms, state.arms.describe()
        if arms.store is not None and arms.feedback_kind is not None:
            from mlcore.monitoring.abtest import analyse

            analysis = await run_in_threadpool(analyse, arms.store.path, arms.feedback_kind)
            if analysis is not None:
                answer["test"] = {k: v for k, v in analysis.to_dict().items() if k != "curve"}
        return ORJSONResponse(answer)

    @routes.post(
        "/admin/rollout",
        dependencies=[AdminToken],
        summary="Switch the mode (champion, shadow, canary, ab) and the challenger's share",
        openapi_extra=json_body(RolloutChange),
        responses={
            200: {"model": RolloutStatus},
            403: {"model": ErrorBody, "description": "Admin token missing or wrong, or a request from another origin"},
            409: {"model": ErrorBody, "description": "The mode needs a challenger and none can be loaded"},
            **error_responses(413, 415, 422),
        },
    )
    async def change_rollout(request: Request, state: ServingDep) -> Response:
        body, _ = await read_body(request, state.spec.max_body_bytes, False)  # 415 unless JSON
        if not state.authorised(request):
            raise Forbidden("x-admin-token header missing or wrong")
        return await apply_rollout_change(state, body)

    return routes
