"""``make alert-hook``: Alertmanager's webhook receiver, where an alert becomes an action.

Alertmanager POSTs its notifications (webhook payload, version 4) to ``/alerts``. Every alert in
them is appended to a journal (JSON lines, ``reports/alerts.jsonl``) with what was done about it:

- a **firing** alert of this service (label ``service``, else ``job``) with an ``action`` label this hook knows
  (``--action retrain=...``: for a project, ``make autopilot``) starts that command, one at a time;
  the same firing again (Alertmanager repeats it) while it runs, or after it ran
  for that firing, starts nothing;
- everything else (resolved alerts, alerts without an ``action`` label such as a service down or
  an error ratio: a retrain does not mend a fault; another service's alerts) is recorded only.

The command's output goes to ``reports/alerthook/<UTC>-<action>.log`` and its exit status to the
journal. ``GET /actions`` shows the journal's newest entries and what is running; ``GET /health``
answers while the hook is up. A malformed notification gets 422 naming the field.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger("mlcore.monitoring.alerthook")


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str  # noqa: N815 - Alertmanager's field names
    endsAt: str = ""  # noqa: N815
    fingerprint: str = ""


class Notification(BaseModel):
    """Alertmanager's webhook payload (``version`` 4)."""

    model_config = ConfigDict(extra="allow")
    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[Alert]


@dataclass
class Running:
    action: str
    key: str
    started: float
    process: subprocess.Popen[bytes]
    output: Path


@dataclass
class Hook:
    """What this receiver does for one service: its job, its actions, its journal."""

    job: str
    actions: Mapping[str, Sequence[str]]
    journal: Path
    cwd: Path = Path()
    env: Mapping[str, str] | None = None
    running: Running | None = None
    handled: set[str] = field(default_factory=set)  # firings already acted on
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, notification: Notification) -> list[dict[str, Any]]:
        """Record every alert and start what it asks for; return the journal entries written."""
        return [self._one(alert) for alert in notification.alerts]

    def _one(self, alert: Alert) -> dict[str, Any]:
        name, action = alert.labels.get("alertname", "?"), alert.labels.get("action")
        key = f"{alert.fingerprint or json.dumps(alert.labels, sort_keys=True)}@{alert.startsAt}"
        with self._lock:
            self._reap()
            if alert.status == "resolved":
                decision = "recorded: resolved"
            elif service_of(alert) != self.job:
                decision = f"recorded: service {service_of(alert)!r} is not {self.job!r}"
            elif action is None:
                decision = "recorded: no action label (a person or another receiver acts on it)"
            elif action not in self.actions:
                decision = f"recorded: unknown action {action!r} (known: {', '.join(sorted(self.actions))})"
            elif self.running is not None:
                decision = f"not started: {self.running.action} has been running since {_utc(self.running.started)}"
            elif key in self.handled:
                decision = f"not started: {action} already ran for this firing"
            else:
                self.running = self._start(action, key)
                self.handled.add(key)
                decision = f"started: {action} ({shlex.join(self.actions[action])}), output {self.running.output}"
        entry = {
            "event": "alert",
            "alertname": name,
            "status": alert.status,
            "labels": alert.labels,
            "starts_at": alert.startsAt,
            "decision": decision,
        }
        self.record(entry)
        log.info("%s %s: %s", name, alert.status, decision)
        return entry

    def _start(self, action: str, key: str) -> Running:
        started = time.time()
        output = (
            self.journal.parent / "alerthook" / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(started))}-{action}.log"
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("wb") as sink:
            process = subprocess.Popen(  # noqa: S603 - the command is the operator's own --action
                list(self.actions[action]),
                cwd=self.cwd,
                env=dict(self.env) if self.env else None,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        threading.Thread(target=self._finish_when_done, args=(process,), daemon=True).start()
        return Running(action, key, started, process, output)

    def _finish_when_done(self, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        with self._lock:
            self._reap()

    def _reap(self) -> None:
        """Journal the running action's end once it has ended (callers hold the lock)."""
        run = self.running
        if run is None or run.process.poll() is None:
            return
        self.running = None
        self.record(
            {
                "event": "action_done",
                "action": run.action,
                "exit_code": run.process.returncode,
                "seconds": round(time.time() - run.started, 1),
                "output": str(run.output),
            }
        )

    def record(self, entry: Mapping[str, Any]) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with self.journal.open("a", encoding="utf-8") as sink:
            sink.write(json.dumps({"ts": _utc(time.time()), **entry}) + "\n")

    def describe(self, last: int = 50) -> dict[str, Any]:
        with self._lock:
            self._reap()
            run = self.running
        lines = self.journal.read_text(encoding="utf-8").splitlines()[-last:] if self.journal.exists() else []
        return {
            "job": self.job,
            "actions": {k: shlex.join(v) for k, v in self.actions.items()},
            "running": None
            if run is None
            else {"action": run.action, "since": _utc(run.started), "output": str(run.output)},
            "journal": [json.loads(line) for line in lines],
        }

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop a running action (SIGTERM, then SIGKILL after ``grace_s``) and journal it."""
        with self._lock:
            run = self.running
        if run is None or run.process.poll() is not None:
            return
        run.process.terminate()
        try:
            run.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            run.process.kill()
            run.process.wait()
        with self._lock:
            self._reap()


def service_of(alert: Alert) -> str | None:
    """Whose alert: its ``service`` label (the suite's rules set it: their aggregations drop
    ``job``), else its ``job``."""
    return alert.labels.get("service") or alert.labels.get("job")


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def create_app(hook: Hook) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        yield
        hook.stop()

    app = FastAPI(title=f"{hook.job} alert hook", lifespan=lifespan)

    @app.post("/alerts", summary="Alertmanager's webhook: record every alert, act on action-labelled ones")
    async def alerts(request: Request) -> JSONResponse:
        try:
            notification = Notification.model_validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return JSONResponse(
                {"error": f"{where}: {first['msg']}", "detail": exc.errors(include_url=False, include_input=False)},
                status_code=422,
            )
        return JSONResponse({"received": hook.receive(notification)})

    @app.get("/actions", summary="The journal's newest entries and the running action")
    async def actions() -> JSONResponse:
        return JSONResponse(hook.describe())

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def parse_actions(given: Sequence[str]) -> dict[str, list[str]]:
    """``name=command line`` pairs (``--action retrain="python -m pkg.rollout autopilot"``)."""
    actions = {}
    for pair in given:
        name, sep, command = pair.partition("=")
        if not sep or not name.strip() or not command.strip():
            raise SystemExit(f"alert-hook: --action takes name=command, not {pair!r}")
        actions[name.strip()] = shlex.split(command)
    return actions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alert-hook", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--job",
        required=True,
        help="the service: its alerts' service (or job) label; other services' alerts are only recorded",
    )
    parser.add_argument(
        "--action", action="append", default=[], help="name=command run for a firing alert labelled action=name"
    )
    parser.add_argument("--journal", type=Path, default=Path("reports/alerts.jsonl"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9095)
    args = parser.parse_args(argv)
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    hook = Hook(args.job, parse_actions(args.action), args.journal.resolve())
    print(
        f"alert-hook: {args.job} on http://{args.host}:{args.port}/alerts; actions {hook.describe()['actions']}",
        flush=True,
    )
    uvicorn.run(create_app(hook), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
