"""mlcore's app under uvicorn on loopback (``demo_api.py``): what only a real server shows."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from demo_api import export
from mlcore.serving.smoke import free_port, running_server

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


def serve_cmd(root: Path, port: int, *fields: str) -> list[str]:
    return [sys.executable, str(HERE / "demo_api.py"), str(root), str(port), *fields]


def committed(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM predictions").fetchone()[0])
    except sqlite3.OperationalError:  # the table is not created yet
        return 0
    finally:
        conn.close()


class Load:
    """``threads`` keep-alive clients posting one item each until stopped; the time of each 200."""

    def __init__(self, base: str, threads: int = 6) -> None:
        self.base = base
        self.answered: list[float] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(threads)]

    def _client(self) -> None:
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while not self.stop.is_set():
                try:
                    response = client.post("/predict", json={"x": 1.5})
                except httpx.TransportError:
                    return
                if response.status_code == 200:
                    self.answered.append(time.monotonic())

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def test_kill_9_under_load_loses_at_most_the_last_second_of_answers(tmp_path: Path) -> None:
    """The prediction log keeps up with sustained load (lag under a second) and a SIGKILL loses
    at most the answers of the last second."""
    export(tmp_path / "export", "1", 2.0)
    db, port = tmp_path / "log.db", free_port()
    lags: list[float] = []
    with running_server(serve_cmd(tmp_path, port), port, cwd=tmp_path) as (base, proc), Load(base) as load:
        start = time.monotonic()
        while time.monotonic() - start < 4:
            time.sleep(0.25)
            now, rows = time.monotonic(), committed(db)
            # how far the log is behind: the age of the oldest answer not yet committed
            pending = load.answered[rows:] if rows < len(load.answered) else []
            lags.append(now - pending[0] if pending else 0.0)
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(10)
    answered = sum(t <= killed for t in load.answered)
    rate = answered / (killed - start)
    rows = committed(db)
    lost = max(answered - rows, 0)
    figures = {"answered": answered, "rows": rows, "lost": lost, "rate": round(rate), "max_lag_s": max(lags)}
    print(json.dumps(figures))
    assert rate > 100, figures  # the load was real
    assert max(lags) < 1.0, figures
    assert lost <= rate * 1.0, figures
