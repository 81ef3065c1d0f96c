"""The alert loop's two parts on their own: the autopilot's decisions (``next_step``, pure) and
the alert hook (``mlcore.monitoring.alerthook``) as a real uvicorn server on loopback that runs a
real command for an action-labelled alert and only records the others. The whole loop through
Prometheus and Alertmanager is tests/loop in the suite."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlcore.foundation.waiting import wait_until
from mlcore.lifecycle.autopilot import Policy, next_step
from mlcore.monitoring.alerthook import parse_actions
from mlcore.serving.smoke import free_port, running_server

POLICY = Policy(canary_s=60, ab_share=0.5, ab_deadline_s=600, poll_s=1)


def status(mode: str = "canary", guard: str | None = None, test: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"mode": mode, "guard_rail": guard, "challenger_version": "2", "test": test}


def decided(significant: bool, winner: str | None = None) -> dict[str, Any]:
    return {
        "decision": {
            "significant": significant,
            "winner": winner,
            "reason": "p = 0.01" if significant else "not enough feedback yet",
        }
    }


@pytest.mark.parametrize(
    ("given", "phase", "elapsed", "action"),
    [
        (status(guard="error rate 30%"), "canary", 5, "stop"),
        (status(mode="champion"), "ab", 5, "stop"),
        (status(test=decided(False)), "canary", 5, "wait"),
        (status(test=decided(False)), "canary", 61, "ab"),
        (status(test=None), "canary", 61, "champion"),
        (status(mode="ab", test=decided(False)), "ab", 30, "wait"),
        (status(mode="ab", test=decided(True, "challenger")), "ab", 30, "promote"),
        (status(mode="ab", test=decided(True, "champion")), "ab", 30, "champion"),
        (status(mode="ab", test=decided(False)), "ab", 601, "champion"),
    ],
)
def test_the_autopilot_promotes_only_a_challenger_that_won(
    given: dict[str, Any], phase: str, elapsed: float, action: str
) -> None:
    step = next_step(given, phase, elapsed, POLICY)
    assert step.action == action, step
    assert step.why


def test_without_feedback_a_clean_canary_promotes_only_when_the_policy_says_so() -> None:
    assert (
        next_step(status(test=None), "canary", 61, Policy(canary_s=60, promote_without_feedback=True)).action
        == "promote"
    )
    with pytest.raises(ValueError, match="unknown setting"):
        Policy.from_config({"canary_seconds": 5})


def test_actions_are_name_equals_command() -> None:
    assert parse_actions(['retrain=python -m pkg.rollout "autopilot"']) == {
        "retrain": ["python", "-m", "pkg.rollout", "autopilot"]
    }
    with pytest.raises(SystemExit, match="name=command"):
        parse_actions(["retrain"])


def alert(
    name: str, status: str = "firing", job: str = "svc", action: str | None = None, starts: str = "2026-12-05T01:00:00Z"
) -> dict[str, Any]:
    labels = {"alertname": name, "service": job, **({"action": action} if action else {})}
    return {"status": status, "labels": labels, "annotations": {}, "startsAt": starts, "fingerprint": f"{name}{job}"}


def notify(client: httpx.Client, *alerts: dict[str, Any]) -> list[str]:
    answer = client.post(
        "/alerts", json={"version": "4", "status": "firing", "receiver": "hook", "alerts": list(alerts)}
    )
    assert answer.status_code == 200, answer.text
    return [entry["decision"] for entry in answer.json()["received"]]


def test_the_hook_runs_the_action_once_per_firing_and_records_everything(tmp_path: Path) -> None:
    marker, gate = tmp_path / "ran.txt", tmp_path / "gate"
    # the action appends a line, then waits for the test to open the gate (so a repeat arrives while it runs)
    script = f"import pathlib, time; p = pathlib.Path({str(marker)!r}); p.write_text(p.read_text() + 'x' if p.exists() else 'x')\nwhile not pathlib.Path({str(gate)!r}).exists(): time.sleep(0.05)"
    (tmp_path / "action.py").write_text(script)
    journal = tmp_path / "reports" / "alerts.jsonl"
    port = free_port()
    cmd = [sys.executable, "-m", "mlcore.monitoring.alerthook", "--job", "svc", "--port", str(port)]
    cmd += ["--journal", str(journal), "--action", f"retrain={sys.executable} action.py"]
    with (
        running_server(cmd, port, cwd=tmp_path, ready_path="/health") as (base, _),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        decisions = notify(client, alert("ErrorBudgetBurnFast"), alert("DriftDetected", action="retrain"))
        assert decisions[0].startswith("recorded: no action label"), decisions
        assert decisions[1].startswith("started: retrain"), decisions
        assert notify(client, alert("DriftDetected", action="retrain"))[0].startswith(
            "not started: retrain has been running"
        )
        assert notify(client, alert("DriftDetected", action="retrain", job="other"))[0].startswith(
            "recorded: service 'other'"
        )
        assert notify(client, alert("DriftDetected", action="page"))[0].startswith("recorded: unknown action 'page'")
        gate.write_text("open")
        wait_until(
            lambda: client.get("/actions").json()["running"] is None,
            "the action to end",
            seen=lambda: client.get("/actions").text,
        )
        assert (
            notify(client, alert("DriftDetected", action="retrain"))[0]
            == "not started: retrain already ran for this firing"
        )
        assert notify(client, alert("DriftDetected", status="resolved", action="retrain"))[0] == "recorded: resolved"
        # a new firing of the same alert (a later start) acts again
        assert notify(client, alert("DriftDetected", action="retrain", starts="2026-12-05T02:00:00Z"))[0].startswith(
            "started"
        )
        wait_until(
            lambda: client.get("/actions").json()["running"] is None,
            "the second action to end",
            seen=lambda: client.get("/actions").text,
        )
        bad = client.post("/alerts", json={"version": "4", "status": "firing", "alerts": [{"labels": {}}]})
        assert bad.status_code == 422 and bad.json()["error"].startswith("alerts.0.status"), bad.text
        assert client.post("/alerts", content=b"{not json").status_code == 422
    assert marker.read_text() == "xx"
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    done = [e for e in entries if e["event"] == "action_done"]
    assert [e["exit_code"] for e in done] == [0, 0] and all(Path(e["output"]).exists() for e in done)
    assert sum(e["event"] == "alert" for e in entries) == 8


def test_stopping_the_hook_stops_its_action_and_journals_it(tmp_path: Path) -> None:
    from mlcore.monitoring.alerthook import Hook, Notification

    hook = Hook(
        "svc",
        {"retrain": [sys.executable, "-c", "import time; time.sleep(60)"]},
        tmp_path / "alerts.jsonl",
        cwd=tmp_path,
    )
    hook.receive(
        Notification.model_validate(
            {"version": "4", "status": "firing", "alerts": [alert("DriftDetected", action="retrain")]}
        )
    )
    started = time.monotonic()
    hook.stop(grace_s=5)
    assert time.monotonic() - started < 30
    last = json.loads((tmp_path / "alerts.jsonl").read_text().splitlines()[-1])
    assert last["event"] == "action_done" and last["exit_code"] != 0
