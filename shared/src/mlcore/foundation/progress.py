"""Stage lines for long steps: ``[project] stage: what ... done in 1.2 s``."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mlcore.foundation.redact import mask_credentials


@contextmanager
def step(stage: str, what: str) -> Iterator[None]:
    start = time.perf_counter()
    print(f"[{stage}] {what} ...", file=sys.stderr, flush=True)
    try:
        yield
    except BaseException:
        print(f"[{stage}] {what}: FAILED after {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        raise
    print(f"[{stage}] {what}: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


def say(stage: str, message: str) -> None:
    print(f"[{stage}] {mask_credentials(message)}", file=sys.stderr, flush=True)
