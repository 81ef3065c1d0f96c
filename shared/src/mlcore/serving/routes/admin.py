"""``POST /admin/reload``: switch to the current ``@champion`` without a restart (requests in flight
finish on the model they started with), and the admin token that guards it."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mlcore.serving.body import read_body
from mlcore.serving.errors import ErrorBody, Forbidden, ORJSONResponse, Unavailable, error_responses
from mlcore.serving.holder import failure_detail, failure_message
from mlcore.serving.spec import LOOPBACK, ServingSpec
from mlcore.serving.state import AdminToken, ServingDep, ServingState

log = logging.getLogger("mlcore.serving.app")


class Reloaded(BaseModel):
    status: str = Field(examples=["reloaded"])
    previous_version: str | None
    model_version: str


def admin_token(spec: ServingSpec) -> str | None:
    """The token the admin routes require: the configured one; else the one in
    ``spec.admin_token_file`` (generated there first, readable by its owner only), on loopback too;
    without a token file, off loopback a generated one (in ``<cache_dir>/admin_token``)."""
    if spec.admin_token:
        return spec.admin_token
    if spec.admin_token_file is not None:
        import secrets

        from mlcore.foundation.secrets import token_file

        try:
            token = token_file(spec.admin_token_file)
        except OSError as exc:  # a read-only folder: serve, with the admin routes closed to everyone
            log.error(
                "cannot write serve.admin_token_file: the admin routes stay closed; set SERVE_ADMIN_TOKEN",
                extra={"token_file": str(spec.admin_token_file), "reason": exc.strerror or str(exc)},
            )
            return secrets.token_urlsafe(32)
        log.info("admin routes need the x-admin-token header", extra={"token_file": str(spec.admin_token_file)})
        return token
    if spec.host in LOOPBACK:
        return None
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


async def reload_champion(state: ServingState) -> Response:
    """Load the current champion and serve it; keep serving the old one when that fails (503)."""
    holder, arms = state.holder, state.arms
    async with holder.lock:
        previous = holder.current.version if holder.current else None
        try:
            loaded = await run_in_threadpool(holder.load)
        except Exception as exc:  # noqa: BLE001 - keep serving the old model
            log.error("reload failed", extra={"reason": failure_detail(exc)})
            raise Unavailable(f"reload failed, still serving {previous}: {failure_message(exc)}") from None
        await holder.install(loaded)
        wants_challenger = arms.router.mode != "champion" or holder.challenger is not None
        if wants_challenger and not await holder.load_challenger_now():  # promoted: no @challenger now
            holder.challenger = None
            arms.set_mode("champion", None)
    return ORJSONResponse({"status": "reloaded", "previous_version": previous, "model_version": loaded.version})


def router() -> APIRouter:
    routes = APIRouter()

    @routes.post(
        "/admin/reload",
        dependencies=[AdminToken],
        summary="Switch to the current @champion without a restart",
        responses={
            200: {"model": Reloaded},
            403: {"model": ErrorBody, "description": "Admin token missing or wrong, or a request from another origin"},
            **error_responses(413, 415, 503),
        },
    )
    async def reload(request: Request, state: ServingDep) -> Response:
        await read_body(request, state.spec.max_body_bytes, False)  # JSON or nothing: 415 for a form post
        if not state.authorised(request):
            raise Forbidden("x-admin-token header missing or wrong")
        return await reload_champion(state)

    return routes
