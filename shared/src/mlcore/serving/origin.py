"""Refuse state-changing requests a web page on another origin sent (403), before any route runs.

A browser sends a "simple" cross-site request (a form post, ``fetch`` with ``text/plain`` or no
body) without asking first, so any page open on the machine could otherwise post to the API on
loopback: switch the rollout mode, trigger reloads, write feedback or fill the prediction log.
Every such request carries ``Origin`` (and modern browsers ``Sec-Fetch-Site``); requests from
scripts, ``curl`` and the suite's own tools carry neither, and the API's own page at ``/`` is the
same origin. Allowed: no ``Origin``, the server's own origin, or one listed in
``serve.allowed_origins``; a ``Sec-Fetch-Site: cross-site`` request from an origin not listed is
refused too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlcore.serving.errors import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refusal(method: str, headers: dict[str, str], scheme: str, allowed: frozenset[str]) -> str | None:
    """Why a request is refused as cross-origin, or None (pure: the middleware's decision)."""
    if method in SAFE_METHODS:
        return None
    origin = headers.get("origin")
    own = f"{scheme}://{headers.get('host', '')}"
    if origin is not None and origin != own and origin not in allowed:
        return f"cross-origin request from {origin} refused: add it to serve.allowed_origins to allow it"
    if headers.get("sec-fetch-site") == "cross-site" and origin not in allowed:
        return "cross-site request refused: add its origin to serve.allowed_origins to allow it"
    return None


class CrossOriginGuard:
    """ASGI middleware: 403 (the suite's error body) for a state-changing request from another origin."""

    def __init__(self, app: Any, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = frozenset(origin.rstrip("/") for origin in allowed)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            reason = refusal(scope["method"], headers, scope.get("scheme", "http"), self.allowed)
            if reason is not None:
                await error_response(403, reason)(scope, receive, send)
                return
        await self.app(scope, receive, send)
