"""Start a project's API on loopback, send it real requests, stop it by its PID.

Used by ``make demo`` (the served-model check), the projects' API tests and the benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from mlcore.foundation.waiting import file_tail, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    cmd: Sequence[str],
    port: int,
    cwd: str | Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    ready_path: str = "/ready",
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``cmd`` (an API listening on 127.0.0.1:``port``) until ``ready_path`` answers 200; always
    stop it, with every process it started (it runs in a process group of its own)."""
    log = open(Path(cwd) / f".server-{port}.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {file_tail(log.name)}")
        return httpx.get(f"{base}{ready_path}", timeout=5).status_code == 200

    try:
        wait_until(
            ready,
            f"the server's {ready_path} to answer 200",
            timeout=timeout,
            every=0.25,
            seen=lambda: file_tail(log.name),
            retry_on=(httpx.TransportError,),
        )
        yield base, proc
    finally:
        stop(proc)
        log.close()
        Path(log.name).unlink(missing_ok=True)


def stop(proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM the process group that ``proc`` leads (its workers too), SIGKILL after ``grace`` s."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
    _signal_group(proc, signal.SIGKILL)  # children left behind by a leader that already exited


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)  # started with start_new_session: its group id is its PID


def send(base: str, items: Sequence[dict[str, Any]], timeout: float = 10.0) -> dict[str, Any]:
    """POST each item once to ``/predict``; return counts, latency percentiles and versions."""
    latencies, codes, versions = [], [], set()
    with httpx.Client(base_url=base, timeout=timeout) as client:
        for item in items:
            start = time.perf_counter()
            response = client.post("/predict", json=item)
            latencies.append(time.perf_counter() - start)
            codes.append(response.status_code)
            if response.status_code == 200:
                versions.add(response.json()["model_version"])
        metadata = client.get("/metadata").json()
        explained = explain_one(client, items[0]) if items else None
    ms = np.asarray(latencies) * 1000
    return {
        "requests": len(items),
        "ok": codes.count(200),
        "errors": len(codes) - codes.count(200),
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
        "model_versions": sorted(versions),
        "metadata_version": metadata.get("version"),
        "explained": explained,
    }


def explain_one(client: httpx.Client, item: dict[str, Any], top: int = 3) -> dict[str, Any] | None:
    """The first item's answer and its ``top`` explanation terms by size (``POST /explain``), or
    None where the service has no explanations."""
    if "/explain" not in client.get("/openapi.json").json().get("paths", {}):
        return None
    answer = client.post("/explain", json=item)
    if answer.status_code != 200:
        return {"error": answer.status_code}
    body = answer.json()
    terms = sorted(body["explanation"]["terms"], key=lambda term: -abs(term["contribution"]))[:top]
    return {
        "answer": {k: v for k, v in body.items() if k not in ("explanation", "model_version")},
        "output": body["explanation"]["output"],
        "top_terms": [[term["name"], round(term["contribution"], 4)] for term in terms],
    }
