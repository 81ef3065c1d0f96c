"""MLflow runs that name the process holding them, so a run whose process was killed is marked
failed instead of staying ``RUNNING`` forever.

``owned_run`` is ``mlflow.start_run`` plus three tags (host, PID, the process's start time, which
tells a PID reused by another process apart) and SIGTERM turned into a normal exit, so the run is
closed as failed. ``fail_abandoned_runs`` (called by ``tracking.configure``, i.e. at the start of
every stage) finds ``RUNNING`` runs of this host whose process is gone, marks them ``FAILED`` and
their unfinished (``PENDING``) logged models ``FAILED`` too. Runs started on other hosts are left
alone: whether their process lives cannot be told from here.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HOST, PID, STARTED = "mlcore.host", "mlcore.pid", "mlcore.process_start"
ABANDONED = "mlcore.abandoned"


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc); None if it is gone or unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: starttime (fields counted after the name)


def owner_tags() -> dict[str, str]:
    pid = os.getpid()
    return {HOST: socket.gethostname(), PID: str(pid), STARTED: process_start(pid) or ""}


def alive(tags: dict[str, str]) -> bool:
    """Whether the process named by a run's owner tags still runs (this host only)."""
    pid = int(tags[PID])
    if Path("/proc").is_dir():
        started = process_start(pid)
        return started is not None and (not tags.get(STARTED) or started == tags[STARTED])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def owned_run(**start_run: Any) -> Iterator[Any]:
    """``mlflow.start_run(**start_run)`` tagged with its owner; SIGTERM ends it as failed."""
    import mlflow

    with _sigterm_as_exit(), mlflow.start_run(**start_run) as run:
        mlflow.set_tags(owner_tags())
        yield run


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def fail_abandoned_runs(client: Any, experiment_id: str) -> list[str]:
    """Mark ``RUNNING`` runs of dead processes on this host ``FAILED`` (and their pending logged
    models); return their ids."""
    from mlflow.entities import LoggedModelStatus

    host = socket.gethostname()
    runs = client.search_runs(
        [experiment_id], filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST}` = '{host}'", max_results=1000
    )
    dead = [run for run in runs if PID in run.data.tags and not alive(run.data.tags)]
    for run in dead:
        why = f"process {run.data.tags[PID]} on {host} ended without closing the run (killed)"
        client.set_tag(run.info.run_id, ABANDONED, why)
        client.set_terminated(run.info.run_id, "FAILED")
    if dead:
        ids = {run.info.run_id for run in dead}
        for model in client.search_logged_models(experiment_ids=[experiment_id], max_results=1000):
            if model.source_run_id in ids and model.status == LoggedModelStatus.PENDING:
                client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
    return [run.info.run_id for run in dead]
