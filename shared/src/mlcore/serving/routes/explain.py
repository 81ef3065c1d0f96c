"""``POST /explain``: the body ``/predict`` takes (the same strict validation, the same 4xx naming
the field, uploads where the model takes files), answered by the champion with each answer's
explanation (``ServedPredictor.explain``: the task type's method) and the model version. Not logged
as traffic and never routed to a challenger: an explanation is asked for by a person, about the
model that serves. The app adds the route only where the predictor explains (``ServedModel.explains``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, create_model

from mlcore.foundation.errors import InputError
from mlcore.serving.docs import ref
from mlcore.serving.errors import NotImplementedHere, ORJSONResponse, Unavailable, error_responses, item_rule_error
from mlcore.serving.routes.predict import PredictModels, predict_bodies, request_items
from mlcore.serving.spec import ServingSpec
from mlcore.serving.state import ServingDep


@dataclass(frozen=True)
class ExplainModels:
    """The answer models of ``/explain``: one explained answer, or a batch of them."""

    one: type[BaseModel]
    batch: type[BaseModel]

    @classmethod
    def of(cls, spec: ServingSpec) -> ExplainModels:
        why = (
            dict[str, Any],
            Field(description="method, output, base_value, value, terms (name, contribution, ...), rest, exact"),
        )
        version = (str, Field(description="The model that answered."))
        item = create_model("ExplainedAnswer", __base__=spec.answer_schema, explanation=why)
        one = create_model("Explanation", __base__=item, model_version=version)
        batch = create_model(
            "ExplanationBatch",
            model_version=version,
            explanations=(list[item], Field(description="One explained answer per item, in order.")),  # type: ignore[valid-type]
        )
        return cls(one, batch)


def router(spec: ServingSpec, models: PredictModels, explained: ExplainModels) -> APIRouter:
    routes = APIRouter()
    answer = {"oneOf": [ref(explained.one), ref(explained.batch)]}

    @routes.post(
        "/explain",
        summary='Predict and explain one item, or a batch as {"items": [...]}',
        openapi_extra={"requestBody": {"required": True, "content": predict_bodies(spec, models)}},
        responses={
            200: {
                "description": "The answer with its explanation",
                "content": {"application/json": {"schema": answer}},
            },
            **error_responses(413, 415, 422, 501, 503),
        },
    )
    async def explain(request: Request, state: ServingDep) -> Response:
        items, batch = await request_items(request, spec, models)
        champion = state.holder.current
        if champion is None:
            raise Unavailable("no model loaded: " + state.holder.unavailable())
        try:
            explained = await champion.explain(items)
        except InputError as exc:
            raise item_rule_error(exc) from None
        except NotImplementedError as exc:
            raise NotImplementedHere(str(exc)) from None
        headers = {"x-model-version": champion.version}
        if batch:
            return ORJSONResponse({"model_version": champion.version, "explanations": explained}, headers=headers)
        return ORJSONResponse({"model_version": champion.version, **explained[0]}, headers=headers)

    return routes
