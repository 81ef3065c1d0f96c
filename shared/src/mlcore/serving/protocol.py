"""uvicorn's HTTP protocol with deadlines for slow clients.

uvicorn closes idle keep-alive connections but puts no limit on how long a client may take to
send a request: endless headers (slowloris), a trickled body, or a ``Content-Length`` larger than
the body hold a connection, and a task, forever. This subclass of uvicorn's httptools protocol
gives every request ``header_timeout_s`` from its first byte to the end of its headers and
``body_timeout_s`` from there to the end of its body; past either, the client gets a 408 and
the connection is closed. The number of open connections is capped by uvicorn's own
``limit_concurrency`` (503 beyond it), set by ``mlcore.serving.app.run``.

The deadlines travel to every worker process in ``CLIENT_TIMEOUTS_ENV`` (``"<header s>,<body s>"``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)
CLIENT_TIMEOUTS_ENV = "MLCORE_SERVE_CLIENT_TIMEOUTS"
DEFAULT_TIMEOUTS = (10.0, 30.0)
IMPORT_PATH = f"{__name__}:DeadlineHttpToolsProtocol"


@dataclass(frozen=True)
class ClientLimits:
    """How long a client may take to send a request, and how many connections may be open."""

    header_timeout_s: float = DEFAULT_TIMEOUTS[0]
    body_timeout_s: float = DEFAULT_TIMEOUTS[1]
    limit_connections: int = 1000

    @classmethod
    def from_config(cls, serve: Mapping[str, Any]) -> ClientLimits:
        return cls(
            header_timeout_s=float(serve.get("header_timeout_s", cls.header_timeout_s)),
            body_timeout_s=float(serve.get("body_timeout_s", cls.body_timeout_s)),
            limit_connections=int(serve.get("limit_connections", cls.limit_connections)),
        )

    def uvicorn_settings(self) -> dict[str, Any]:
        """``uvicorn.run`` keyword arguments; the deadlines go to every worker through the environment."""
        os.environ[CLIENT_TIMEOUTS_ENV] = f"{self.header_timeout_s},{self.body_timeout_s}"
        return {"http": IMPORT_PATH, "limit_concurrency": self.limit_connections}


@cache
def _timeouts(setting: str | None) -> tuple[float, float]:
    if not setting:
        return DEFAULT_TIMEOUTS
    header, body = (float(part) for part in setting.split(","))
    return header, body


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a header deadline and a body deadline per request (408 past either)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_s, self._body_s = _timeouts(os.environ.get(CLIENT_TIMEOUTS_ENV))
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._header_s, "headers")

    def data_received(self, data: bytes) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        if self._deadline is None and idle:  # the first bytes of the next request on this connection
            self._arm(self._header_s, "headers")
        super().data_received(data)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self._body_s, "body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, phase, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: str, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.warning("slow client cut off", extra={"phase": phase, "after_s": seconds, "client": self.client})
        cycle = self.cycle
        answered = cycle is not None and cycle.response_started
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() now says the client is gone
            cycle.message_event.set()
        if not answered:
            body = json.dumps({"error": f"request {phase} not received within {seconds:g} s"}).encode()
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
                + body
            )
        self.transport.close()
