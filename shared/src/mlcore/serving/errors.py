"""The suite's error answers, in one place: a small family of exceptions that carry their HTTP
status (``HTTPError`` and one subclass per status the API answers), the one handler that renders
any of them as the body every error carries (``ErrorBody``), the OpenAPI description of each
status, and validation errors turned into ``detail`` entries that name the field.

Code on the request path raises (``raise Unavailable("no model loaded: ...")``); no module builds
another's responses or imports another's helpers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from mlcore.foundation.errors import InputError

__all__ = [
    "ERRORS",
    "BodyTooLarge",
    "ClientGone",
    "ErrorBody",
    "FieldError",
    "Forbidden",
    "HTTPError",
    "Invalid",
    "NotFound",
    "NotImplementedHere",
    "ORJSONResponse",
    "UnexpectedErrors",
    "Refused",
    "UnsupportedMedia",
    "Unavailable",
    "error_response",
    "error_responses",
    "field_errors",
    "item_rule_error",
    "render",
]


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the request field at fault, or `body`.")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: a message, and for 422 the fields at fault."""

    error: str = Field(description="What is wrong, in words a client can act on.")
    detail: list[FieldError] | None = None


ERRORS = {
    413: "Body larger than serve.max_body_bytes",
    415: "Body is not application/json (or, where uploads are taken, multipart/form-data), or a file is not an image",
    422: "Invalid JSON, or a field out of its schema (named in `detail`)",
    501: "The loaded model has no explanation method",
    503: "No model loaded yet",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route: each status with the error body and what it means."""
    return {code: {"model": ErrorBody, "description": ERRORS.get(code, "Error")} for code in codes}


def error_response(status: int, message: str, detail: Any = None) -> ORJSONResponse:
    """The one error shape: ``{"error": message, "detail": [...]}`` with ``status``."""
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    return ORJSONResponse(body, status_code=status)


class UnexpectedErrors:
    """ASGI middleware: an exception no route handled becomes the 500 error answer right here,
    logged once. Starlette's own handler for ``Exception`` re-raises after answering, and uvicorn
    then drops the connection, so a client's next request on it fails with a reset; here the
    connection stays usable. Added first, it sits inside the app's other middleware (which see
    the 500)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:  # too late for an answer of ours
                raise
            logging.getLogger("mlcore.serving.app").exception("unhandled error")
            await error_response(500, f"internal error: {type(exc).__name__}")(scope, receive, send)


def field_errors(exc: ValidationError, prefix: Sequence[str | int] = ()) -> tuple[str, list[dict[str, Any]]]:
    """A validation error as a one-line summary and the ``detail`` list (one entry per field at fault)."""
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        at_fault = (err.get("ctx") or {}).get("field")  # a rule over the whole item naming its field
        loc = [*prefix, *err["loc"], *([at_fault] if at_fault else [])]
        details.append({"field": ".".join(str(p) for p in loc) or "body", "msg": err["msg"], "type": err["type"]})
    summary = "; ".join(f"{d['field']}: {d['msg']}" for d in details[:5])
    return summary, details


class HTTPError(Exception):
    """An error answer raised on the request path: ``status``, a message a client can act on, and
    for 422 the fields at fault (``detail``). ``render`` turns it into the response."""

    status = 500

    def __init__(self, message: str, detail: list[dict[str, Any]] | None = None, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message, self.detail = message, detail
        if status is not None:
            self.status = status

    def response(self) -> ORJSONResponse:
        return error_response(self.status, self.message, self.detail)


class Forbidden(HTTPError):
    status = 403  # the admin token is missing or wrong


class NotFound(HTTPError):
    status = 404


class ClientGone(HTTPError):
    status = 408  # the client went away (or was cut off as too slow) before its body was complete


class Refused(HTTPError):
    status = 409  # the request conflicts with what is stored or loaded


class BodyTooLarge(HTTPError):
    status = 413


class UnsupportedMedia(HTTPError):
    status = 415


class Invalid(HTTPError):
    status = 422

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: Sequence[str | int] = ()) -> Invalid:
        summary, details = field_errors(exc, prefix)
        return cls(summary, details)


class NotImplementedHere(HTTPError):
    status = 501


class Unavailable(HTTPError):
    status = 503


def item_rule_error(exc: InputError) -> HTTPError:
    """A model's refusal of one item (``InputError``: a rule the schema cannot state) as the error
    answer naming the field."""
    return HTTPError(str(exc), [{"field": exc.field, "msg": exc.message, "type": "item_rule"}], status=exc.status)


async def render(_: Request, exc: Exception) -> Response:
    """The one handler (``app.add_exception_handler(HTTPError, render)``)."""
    assert isinstance(exc, HTTPError)
    return exc.response()
