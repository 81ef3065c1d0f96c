"""The prediction log: every served input and output, written off the request path.

Requests put rows on an in-memory queue; one background thread writes them to SQLite (WAL) in
batches: it commits whatever has arrived every ``flush_interval`` seconds, or as soon as
``batch_rows`` are waiting, so under load the log lags the answers by a fraction of a second and
a ``kill -9`` of the server loses at most that. With ``durable=True`` (``serve.log_durable``) an
answer waits for its rows' commit instead (``record`` returns a future the writer resolves; the
writer flushes as soon as someone waits, so concurrent requests share one commit): a ``kill -9``
then loses no answered prediction, for a commit's latency per request. A batch is one SQL statement over one JSON
parameter: a row-per-statement ``executemany`` hands the GIL back and forth for every row, and a
busy event loop then throttles the writer to a few thousand rows a second (``benchmarks/predlog.py``).
When the queue is full (the disk cannot keep up) rows are dropped and counted; a request never
waits for the log. A failed write (the database locked by another process, a full disk) is retried
with the rows kept, and counted.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

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
# Columns added since the first release (older logs are migrated in place by ``connect``):
# the request id a client quotes in /feedback, the item's index in its request, and the arm that
# produced the row (champion, challenger, or shadow: scored but not returned).
ADDED_COLUMNS = {"request_id": "TEXT", "item": "INTEGER NOT NULL DEFAULT 0", "arm": "TEXT NOT NULL DEFAULT 'champion'"}
INDEXES = "CREATE INDEX IF NOT EXISTS predictions_request ON predictions (request_id);"
# One statement per batch: the rows travel as one JSON array of [ts, version, input, output, request id, item, arm].
INSERT_BATCH = """
INSERT INTO predictions (ts, model_version, input, output, request_id, item, arm)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'),
       json_extract(value, '$[4]'), json_extract(value, '$[5]'), json_extract(value, '$[6]')
FROM json_each(?)
"""
Row = tuple[float, str, str, str, str | None, int, str]


class LogBehind(RuntimeError):
    """A durable log cannot take the rows (its queue is full): the request must not be answered."""


def connect(path: str | Path, busy_timeout: float = 30.0) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=busy_timeout, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # a committed row survives the process being killed
    conn.executescript(SCHEMA)
    have = {row[1] for row in conn.execute("PRAGMA table_info(predictions)")}
    for name, kind in ADDED_COLUMNS.items():
        if name not in have:
            try:
                conn.execute(f"ALTER TABLE predictions ADD COLUMN {name} {kind}")
            except sqlite3.OperationalError as exc:  # another process added it meanwhile
                if "duplicate column" not in str(exc):
                    raise
    conn.executescript(INDEXES)
    return conn


def as_rows(
    model_version: str,
    inputs: Sequence[dict[str, Any]],
    outputs: Sequence[dict[str, Any]],
    request_id: str | None,
    arm: str,
) -> list[Row]:
    """One log row per (input, output) pair, stamped now."""
    now = time.time()
    return [
        (now, model_version, json.dumps(item), json.dumps(out), request_id, index, arm)
        for index, (item, out) in enumerate(zip(inputs, outputs, strict=True))
    ]


class PredictionLog:
    """Asynchronous, batched writer of ``(ts, model_version, input, output)`` rows."""

    def __init__(
        self,
        path: str | Path,
        max_queue: int = 100_000,
        flush_interval: float = 0.2,
        batch_rows: int = 5000,
        busy_timeout: float = 30.0,
        durable: bool = False,
    ) -> None:
        self.path = Path(path)
        self.durable = durable
        self.dropped = 0
        self.written = 0
        self.write_errors = 0
        self._queue: queue.Queue[Row | Future[None] | None] = queue.Queue(maxsize=max_queue)
        self._flush_interval = flush_interval
        self._batch_rows = batch_rows
        self._conn = connect(self.path, busy_timeout)
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Rows answered but not yet committed (what a ``kill -9`` now would lose)."""
        return self._queue.qsize()

    def record(
        self,
        model_version: str,
        inputs: Sequence[dict[str, Any]],
        outputs: Sequence[dict[str, Any]],
        request_id: str | None = None,
        arm: str = "champion",
    ) -> Future[None] | None:
        """Queue the rows; durable: a future that completes once they are committed."""
        rows = as_rows(model_version, inputs, outputs, request_id, arm)
        if self.durable:
            committed: Future[None] = Future()
            try:
                for row in rows:  # the rows may be committed but the answer refused: never the reverse
                    self._queue.put_nowait(row)
                self._queue.put_nowait(committed)
            except queue.Full:
                self.dropped += 1
                raise LogBehind("the prediction log is behind (its queue is full)") from None
            return committed
        for row in rows:
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                self.dropped += 1
        return None

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is queued and stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout)
        self._conn.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[Row] = []
            waiting: list[Future[None]] = []
            deadline = time.monotonic() + self._flush_interval
            while len(batch) < self._batch_rows:  # gather until the batch is full or the interval is over
                try:
                    if waiting:  # someone waits for this commit: take only what is already queued
                        row = self._queue.get_nowait()
                    else:
                        row = self._queue.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    break
                if row is None:
                    stop = True
                    break
                if isinstance(row, Future):
                    waiting.append(row)
                else:
                    batch.append(row)
            committed = self._write(batch, retry=not stop) if batch else True
            for future in waiting:
                if committed:
                    future.set_result(None)
                else:
                    future.set_exception(LogBehind("the prediction log could not be written"))

    def _write(self, batch: list[Row], retry: bool) -> bool:
        payload = json.dumps(batch)
        delay = 0.05
        while True:
            try:
                with self._conn:
                    self._conn.execute(INSERT_BATCH, (payload,))
            except sqlite3.Error as exc:
                self.write_errors += 1
                log.error("prediction log write failed", extra={"reason": str(exc), "rows": len(batch)})
                if not retry:
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            self.written += len(batch)
            return True


def replace_rows(
    conn: sqlite3.Connection,
    request_id: str,
    model_version: str,
    inputs: Sequence[dict[str, Any]],
    outputs: Sequence[dict[str, Any]],
    arm: str,
) -> None:
    """Write one group of rows synchronously, replacing any rows logged before under ``request_id``
    (a batch job's chunk, written again when the job resumes, is logged once)."""
    rows = as_rows(model_version, inputs, outputs, request_id, arm)
    with conn:  # one transaction: the old rows go only if the new ones are committed
        conn.execute("DELETE FROM predictions WHERE request_id = ?", (request_id,))
        conn.execute(INSERT_BATCH, (json.dumps(rows),))


def count_rows(path: str | Path) -> int:
    """Rows committed so far, shadow rows included (0 before the log or its table exists): what a
    caller waits on before it reads the log."""
    path = Path(path)
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM predictions").fetchone()[0])
    except sqlite3.OperationalError:  # the table is not created yet
        return 0
    finally:
        conn.close()


def read_window(path: str | Path, last: int | None = None, since: float | None = None) -> pd.DataFrame:
    """The newest ``last`` answered rows (and/or those after ``since``) with ``input``/``output``
    decoded; shadow rows (scored, not returned) are left out: each request counts once."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"prediction log {path} does not exist: serve some traffic first, or set monitor.prediction_log"
        )
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(predictions)")}
        query = "SELECT id, ts, model_version, input, output FROM predictions WHERE 1 = 1"
        args: list[Any] = []
        if "arm" in columns:
            query += " AND arm != 'shadow'"
        if since is not None:
            query += " AND ts >= ?"
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
