"""``POST /feedback``: the true outcome of an answered request, joined to the prediction log.

A client quotes the ``request_id`` it was answered with (body field and ``x-request-id`` header),
the item's index in its request (0 for a single item) and the outcome. What an outcome is follows
the task (``KINDS``): a ``label`` for classifiers, a ``value`` for regressors, ``responded`` for a
segment's response to what it was offered. Feedback is stored in the prediction log's database
(table ``feedback``) before the answer is sent; the same feedback twice is accepted once
(idempotent), a different outcome for the same item is 409, an unknown request id 404.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from mlcore.serving.fields import WholeNumber
from mlcore.serving.predlog import connect

# The outcome kinds (a project names its kind in configs/task/, `rollout.feedback`):
# (outcome field, its type, the default online metric).
KINDS: dict[str, tuple[str, Any, str]] = {
    "label": ("label", str, "accuracy"),
    "value": ("value", float, "abs_error"),
    "response": ("responded", bool, "response"),
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    request_id TEXT NOT NULL,
    item INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (request_id, item)
);
CREATE TABLE IF NOT EXISTS experiments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    mode TEXT NOT NULL,
    share REAL NOT NULL,
    champion_version TEXT NOT NULL,
    challenger_version TEXT NOT NULL,
    metric TEXT NOT NULL,
    alpha REAL NOT NULL,
    min_samples INTEGER NOT NULL,
    ended REAL,
    end_reason TEXT
);
"""
REQUEST_ID = r"^[A-Za-z0-9._:-]{1,64}$"


def feedback_model(kind: str) -> type[BaseModel]:
    """The request body of ``POST /feedback`` for ``kind``."""
    name, annotation, _ = KINDS[kind]
    constraints: dict[str, Any] = {
        "label": {"min_length": 1, "max_length": 200},
        "value": {"allow_inf_nan": False},
        "response": {},
    }[kind]
    descriptions = {
        "label": "The true label.",
        "value": "The true value (same unit as the prediction).",
        "response": "Whether the customer responded to what their segment was offered.",
    }
    return create_model(
        "Feedback",
        __config__=ConfigDict(extra="forbid"),
        request_id=(str, Field(pattern=REQUEST_ID, description="The request id of the answer (`request_id`).")),
        item=(
            WholeNumber,
            Field(default=0, ge=0, le=1_000_000, description="The item's index in its request (0 for a single item)."),
        ),
        **{name: (annotation, Field(description=descriptions[kind], **constraints))},
    )


class FeedbackAccepted(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    status: str = Field(examples=["recorded"], description="`recorded`, or `duplicate` for feedback already stored.")
    request_id: str
    item: int
    model_version: str = Field(description="The model that answered this item.")


class UnknownRequest(LookupError):
    pass


class Conflict(ValueError):
    pass


class FeedbackStore:
    """Feedback rows beside the prediction log, and the request ids this process answered lately
    (the log commits every 0.2 s: a quick client may send feedback before its row is committed)."""

    def __init__(self, path: str | Path, remember: int = 200_000) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, tuple[int, str]] = OrderedDict()  # id -> (items, version answered)
        self._remember = remember

    def answered(self, request_id: str, items: int, version: str) -> None:
        self._recent[request_id] = (items, version)
        while len(self._recent) > self._remember:
            self._recent.popitem(last=False)

    def _answer_of(self, request_id: str, item: int) -> str:
        """The model version that answered ``item`` of ``request_id`` (raises UnknownRequest)."""
        if request_id in self._recent:
            items, version = self._recent[request_id]
            if item >= items:
                raise UnknownRequest(f"item: request {request_id} had {items} item(s); item {item} does not exist")
            return version
        row = self._conn.execute(
            "SELECT model_version FROM predictions WHERE request_id = ? AND item = ? AND arm != 'shadow' LIMIT 1",
            (request_id, item),
        ).fetchone()
        if row is None:
            raise UnknownRequest(f"request_id: no answered request {request_id} (item {item}) in the prediction log")
        return str(row[0])

    def record(self, request_id: str, item: int, outcome: Any) -> tuple[str, str]:
        """Store the outcome; ("recorded" | "duplicate", the version that answered)."""
        with self._lock:
            version = self._answer_of(request_id, item)
            encoded = json.dumps(outcome)
            with self._conn:
                stored = self._conn.execute(
                    "SELECT outcome FROM feedback WHERE request_id = ? AND item = ?", (request_id, item)
                ).fetchone()
                if stored is not None:
                    if stored[0] != encoded:
                        raise Conflict(
                            f"request_id: feedback for {request_id} item {item} is already stored with another "
                            f"outcome ({stored[0]}); feedback cannot be changed"
                        )
                    return "duplicate", version
                self._conn.execute(
                    "INSERT INTO feedback (request_id, item, outcome, ts) VALUES (?, ?, ?, ?)",
                    (request_id, item, encoded, time.time()),
                )
        return "recorded", version

    def begin_experiment(self, **plan: Any) -> int:
        """Register an online test as it starts (its metric and alpha are fixed from here on)."""
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE experiments SET ended = ?, end_reason = ? WHERE ended IS NULL",
                (time.time(), "a new experiment began"),
            )
            columns = ", ".join(plan)
            cursor = self._conn.execute(
                f"INSERT INTO experiments (started, {columns}) VALUES (?, {', '.join('?' * len(plan))})",  # noqa: S608
                (time.time(), *plan.values()),
            )
            return int(cursor.lastrowid or 0)

    def latest_experiment(self) -> tuple[int, str, float, str, float | None, str | None] | None:
        """(id, mode, share, challenger version, ended, end reason) of the newest experiment: the
        mode every worker of a server follows."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, mode, share, challenger_version, ended, end_reason FROM experiments ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return tuple(row) if row else None  # type: ignore[return-value]

    def end_experiment(self, reason: str) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE experiments SET ended = ?, end_reason = ? WHERE ended IS NULL", (time.time(), reason)
            )

    def close(self) -> None:
        self._conn.close()
