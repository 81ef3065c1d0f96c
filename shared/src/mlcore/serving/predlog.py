"""The prediction log: every served input and output, written off the request path.

Requests put rows on an in-memory queue; one background thread writes them to SQLite in
batches, so logging adds microseconds, not a disk write, to a request. When the queue is full
(the disk cannot keep up) rows are dropped and counted rather than slowing requests down.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    model_version TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn


class PredictionLog:
    """Asynchronous, batched writer of ``(ts, model_version, input, output)`` rows."""

    def __init__(self, path: str | Path, max_queue: int = 100_000, flush_interval: float = 0.25) -> None:
        self.path = Path(path)
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue[tuple[float, str, str, str] | None] = queue.Queue(maxsize=max_queue)
        self._flush_interval = flush_interval
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._conn = connect(self.path)
        self._thread.start()

    def record(self, model_version: str, inputs: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]]) -> None:
        now = time.time()
        for item, out in zip(inputs, outputs, strict=True):
            try:
                self._queue.put_nowait((now, model_version, json.dumps(item), json.dumps(out)))
            except queue.Full:
                self.dropped += 1

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is queued and stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout)
        self._conn.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[tuple[float, str, str, str]] = []
            try:
                first = self._queue.get(timeout=self._flush_interval)
            except queue.Empty:
                continue
            if first is None:
                stop = True
            else:
                batch.append(first)
            while len(batch) < 5000:
                try:
                    row = self._queue.get_nowait()
                except queue.Empty:
                    break
                if row is None:
                    stop = True
                    break
                batch.append(row)
            if batch:
                with self._conn:
                    self._conn.executemany(
                        "INSERT INTO predictions (ts, model_version, input, output) VALUES (?, ?, ?, ?)", batch
                    )
                self.written += len(batch)


def read_window(path: str | Path, last: int | None = None, since: float | None = None) -> pd.DataFrame:
    """The newest ``last`` rows (and/or those after ``since``) with ``input``/``output`` decoded."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"prediction log {path} does not exist: serve some traffic first, or set monitor.prediction_log"
        )
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        query = "SELECT id, ts, model_version, input, output FROM predictions"
        args: list[Any] = []
        if since is not None:
            query += " WHERE ts >= ?"
            args.append(since)
        query += " ORDER BY id DESC"
        if last is not None:
            query += " LIMIT ?"
            args.append(int(last))
        rows = conn.execute(query, args).fetchall()
    finally:
        conn.close()
    frame = pd.DataFrame(rows, columns=["id", "ts", "model_version", "input", "output"]).iloc[::-1]
    frame["input"] = frame["input"].map(json.loads)
    frame["output"] = frame["output"].map(json.loads)
    return frame.reset_index(drop=True)
