"""Wait for a condition, never for a fixed time: poll it until it holds or a generous deadline
passes, then fail with what was seen last.

Tests (mlcore's, the template's, every project's), the smoke server and the demo use this one
helper, so a slower or busier machine only makes a wait longer, never wrong. The default deadline
is ``DEFAULT_TIMEOUT_S`` seconds; ``ML_WAIT_TIMEOUT_S`` raises it on a very slow machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 60.0


class WaitTimeout(AssertionError):
    """The condition did not hold before the deadline; the message says what was seen last."""


def default_timeout() -> float:
    """``ML_WAIT_TIMEOUT_S`` when set (a slow machine), else ``DEFAULT_TIMEOUT_S``."""
    raw = os.environ.get("ML_WAIT_TIMEOUT_S", "")
    try:
        return max(float(raw), 1.0) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"ML_WAIT_TIMEOUT_S must be a number of seconds, got {raw!r}") from None


def wait_until(
    condition: Callable[[], T],
    what: str,
    *,
    timeout: float | None = None,
    every: float = 0.1,
    seen: Callable[[], object] | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``condition`` every ``every`` s until it returns something truthy, and return that.

    ``what`` names the condition for the error. Exceptions of the types in ``retry_on`` count as
    "not yet" (a port that refuses connections while a server starts). On timeout raise
    :class:`WaitTimeout` with the last value or exception and, if given, ``seen()`` (a log tail, a
    status code, a file listing).
    """
    limit = default_timeout() if timeout is None else timeout
    deadline = time.monotonic() + limit
    last: object = None
    while True:
        try:
            value = condition()
        except retry_on as error:
            last = f"{type(error).__name__}: {error}"
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            extra = ""
            if seen is not None:
                try:
                    extra = f"\nseen: {seen()}"
                except Exception as error:  # noqa: BLE001 - the report must not hide the timeout
                    extra = f"\nseen: (could not be read: {error})"
            raise WaitTimeout(f"waited {limit:g} s for {what}; last result: {last!r}{extra}")
        time.sleep(every)  # the polling interval, not a synchronisation


def file_tail(path: str | Path, size: int = 2000) -> str:
    """The last ``size`` bytes of a file as text ("" when it cannot be read): what a timeout shows."""
    try:
        return Path(path).read_bytes()[-size:].decode(errors="replace")
    except OSError:
        return ""
