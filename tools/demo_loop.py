"""`make demo`, last part: the closed loop once on spam-classifier.

Shifted traffic reaches the served champion (the messages' letters written as digits, as a new
client app might send them) with the true label of each message sent back as feedback. Then:
`make retrain-on-drift` (the monitor flags drift; the model is retrained with the labelled
feedback, registered as @challenger and the running server switches to canary), a canary phase
watched by the guard rail, the A/B test with feedback until its sequential test decides (or the
traffic runs out), `make abtest-report`, and `make promote-challenger` when the challenger wins
(the server reloads) or back to the champion alone when it does not.

Traffic used to retrain (the first part of the test split) is never used in the A/B test. The
loop starts with a fresh prediction log (the old one is renamed, not deleted), so its drift check
judges the loop's own traffic.
Everything is visible in the MLflow UI (`make ui`: versions, aliases, the audit trail tag) and in
spam-classifier/reports/ (drift.html, abtest.html).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "spam-classifier"
SHIFT = str.maketrans(
    {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "A": "4", "E": "3", "I": "1", "O": "0", "S": "5"}
)


def shifted(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(message as the new app sends it, true label)."""
    return [(text.translate(SHIFT), label) for text, label in zip(frame["text"], frame["label"], strict=True)]


def say(text: str) -> None:
    print(f"[loop] {text}", flush=True)


def traffic(client: httpx.Client, rows: list[tuple[str, str]]) -> dict[str, int]:
    """Each message once, and its true label as feedback; answers per model version."""
    by_version: dict[str, int] = {}
    for text, label in rows:
        answer = client.post("/predict", json={"text": text})
        answer.raise_for_status()
        body = answer.json()
        by_version[body["model_version"]] = by_version.get(body["model_version"], 0) + 1
        client.post("/feedback", json={"request_id": body["request_id"], "label": label}).raise_for_status()
    return by_version


def wait_logged(log: Path, rows: int) -> None:
    """Until the prediction log has committed ``rows`` answers (it commits every 0.2 s)."""
    from mlcore.foundation.waiting import wait_until
    from mlcore.serving.predlog import count_rows

    wait_until(lambda: count_rows(log) >= rows, f"{rows} rows in the prediction log", seen=lambda: count_rows(log))


def rollout(*args: str, env: dict[str, str]) -> int:
    cmd = [sys.executable, "-m", "spam_classifier.rollout", *args]
    print(f"$ python {' '.join(cmd[1:])}", flush=True)
    return subprocess.run(cmd, cwd=PROJECT, env=env, check=False).returncode


def main() -> int:
    from mlcore.data.stages import split_path
    from mlcore.foundation.config import load_params
    from mlcore.lifecycle.alias_commands import admin_token
    from mlcore.serving.smoke import free_port, running_server

    cfg = load_params(PROJECT / "params.yaml")
    test, val = (pd.read_parquet(split_path(cfg, PROJECT, name)) for name in ("test", "val"))
    drift_rows = shifted(test.iloc[: len(test) * 2 // 3])
    ab_rows = shifted(pd.concat([test.iloc[len(test) * 2 // 3 :], val]))
    canary_rows, ab_rows = ab_rows[:150], ab_rows[150:]
    log = PROJECT / cfg.serve.prediction_log
    if log.exists():  # the loop's drift check judges the loop's own traffic; the old log is kept
        kept = log.with_name(f"{log.stem}.{time.strftime('%Y%m%d-%H%M%S')}{log.suffix}")
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{log}{suffix}").exists():
                Path(f"{log}{suffix}").rename(f"{kept}{suffix}")
        say(f"prediction log moved to {kept.relative_to(PROJECT)}: the loop starts with a fresh one")
    port = free_port()
    env = {**os.environ, "SERVE_URL": f"http://127.0.0.1:{port}", "PYTHONPATH": str(PROJECT / "src")}
    cmd = [sys.executable, "-m", "spam_classifier.api", f"serve.port={port}"]
    summary: dict[str, Any] = {}
    with (
        running_server(cmd, port, cwd=PROJECT, env=env) as (base, _),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        champion = client.get("/ready").json()["model_version"]
        admin = {"x-admin-token": admin_token(cfg, PROJECT) or ""}  # the server wrote it at start
        say(
            f"1. shifted traffic: {len(drift_rows)} messages to champion v{champion}, each with its true label as feedback"
        )
        traffic(client, drift_rows)
        wait_logged(log, len(drift_rows))
        say("2. make retrain-on-drift")
        code = rollout("retrain-on-drift", env=env)
        status = client.get("/rollout").json()
        if code != 0 or status["mode"] == "champion":
            say(f"no challenger to test (exit {code}, mode {status['mode']}): the loop stops here")
            return 0 if code in (0, 1) else 1
        challenger = status["challenger_version"]
        say(
            f"3. canary: challenger v{challenger} answers {status['challenger_share']:.0%}; {len(canary_rows)} messages"
        )
        served = traffic(client, canary_rows)
        sent = len(drift_rows) + len(canary_rows)
        status = client.get("/rollout").json()
        say(f"   answers per version {served}; guard rail: {status['guard_rail'] or 'not tripped'}")
        if status["mode"] == "champion":
            say("the guard rail cut the challenger off: the champion serves alone")
            return 0
        say("4. A/B test: 50/50, pre-registered metric accuracy, mSPRT at alpha 0.05")
        switched = client.post("/admin/rollout", json={"mode": "ab", "share": 0.5}, headers=admin)
        switched.raise_for_status()
        decision: dict[str, Any] = {}
        for start in range(0, len(ab_rows), 100):
            traffic(client, ab_rows[start : start + 100])
            sent += len(ab_rows[start : start + 100])
            wait_logged(log, sent)  # the test reads committed answers
            decision = client.get("/rollout").json()["test"]["decision"]
            if decision["significant"]:
                break
        say(f"   {decision['reason']}")
        say("5. make abtest-report")
        rollout("abtest-report", env=env)
        if decision.get("winner") == "challenger":
            say("6. the challenger wins: make promote-challenger")
            rollout("promote-challenger", "--why", f"won the A/B test: {decision['reason']}", env=env)
            from mlcore.foundation.waiting import wait_until

            wait_until(
                lambda: client.get("/ready").json()["model_version"] == challenger,
                f"the server to serve v{challenger}",
                seen=lambda: client.get("/ready").text,
            )
        else:
            say("6. the challenger does not win: back to the champion alone")
            client.post("/admin/rollout", json={"mode": "champion"}, headers=admin).raise_for_status()
        ready = client.get("/ready").json()
        summary = {
            "champion_before": champion,
            "challenger": challenger,
            "winner": decision.get("winner"),
            "serving": ready["model_version"],
        }
    say(f"done: {summary}; reports: spam-classifier/reports/drift.html, abtest.html; `make ui` for the registry")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
