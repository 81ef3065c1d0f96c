"""The closed loop through real servers, on a copy of spam-classifier trained on its sample data.

Everything on loopback, each process started here and stopped by its PID: the project's API, its
monitor on a schedule (``mlcore.monitoring.watch`` every few seconds), Prometheus scraping the API
each second with the project's own ``deploy/alerts.yaml`` (only the ``for:`` of the two alerts
under test shortened), Alertmanager with the project's ``deploy/alertmanager.yml`` (its timings
shortened, clustering off), and the project's alert hook (``make alert-hook``: retrain alerts run
``make autopilot``).

1. A fault injected into the service (every ``/predict`` raises while a flag file exists) fires
   ``ErrorBudgetBurnFast``; it reaches the hook through Alertmanager, and nothing is retrained.
2. Shifted traffic (the messages' letters written as digits, ``tools/demo_loop.py``) with each
   message's true label as feedback: the monitor flags drift, ``DriftDetected`` fires, Alertmanager
   sends it to the hook, the autopilot retrains with the feedback, registers ``@challenger``, runs
   the canary and the A/B test and promotes the winner; the service serves the new version, the
   next monitor runs find no drift and the alert resolves. The times of each step are printed and
   written to the copy's ``reports/loop_times.json``.
3. Every panel of the project's Grafana dashboard (``deploy/grafana/dashboard.json``) returns data
   from this Prometheus.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml
from mlcore.foundation.waiting import wait_until
from mlcore.serving.smoke import free_port, running_server

SUITE = Path(__file__).resolve().parents[2]
SPAM = SUITE / "spam-classifier"
JOB = "spam-classifier"
FAST_ALERTS = {"DriftDetected": "3s", "ErrorBudgetBurnFast": "3s"}
OVERRIDES = [
    "debug=default",
    "monitor.window=300",  # the drift check judges the newest 300 answers
    "rollout.retrain.autopilot.canary_s=5",
    "rollout.retrain.autopilot.poll_s=1",
    "rollout.retrain.autopilot.ab_deadline_s=240",
]
FAULT = '''"""Injected by tests/loop: every /predict raises while the flag file exists."""
import os
import pathlib

FLAG = os.environ.get("ML_FAULT_FLAG")
if FLAG:
    import mlcore.serving.arms as arms

    original = arms.Arms.score

    async def score(self, items, key, request_id):
        if pathlib.Path(FLAG).exists():
            raise RuntimeError("injected fault (tests/loop)")
        return await original(self, items, key, request_id)

    arms.Arms.score = score
'''


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("ML_REQUIRE_CONTAINERS") == "1":
            pytest.fail(f"ML_REQUIRE_CONTAINERS=1 but {tool} is missing: make containers")
        pytest.skip(f"no {tool}: make containers puts Debian's Prometheus and Alertmanager in .venv/bin")
    return found


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stdout[-3000:]}{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """spam-classifier's tracked files in a temporary folder, trained by its own DVC pipeline."""
    root = tmp_path_factory.mktemp("loop") / JOB
    files = subprocess.run(["git", "ls-files", "-z", JOB], cwd=SUITE, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        target = root / Path(name).relative_to(JOB)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SUITE / name, target)
    for generated in ("dvc.lock", "params.yaml", "reports"):
        shutil.rmtree(root / generated) if (root / generated).is_dir() else (root / generated).unlink()
    env = {
        **os.environ,
        "ML_PROJECT_ROOT": str(root),
        "ML_STORE_ROOT": str(root),
        "PYTHONPATH": str(root / "src"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DVC_NO_ANALYTICS": "1",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    run(["dvc", "config", "core.no_scm", "true"], root, env)
    run([sys.executable, "-m", "mlcore.foundation.config", *OVERRIDES], root, env)
    run(["dvc", "repro", "--quiet"], root, env)
    return root, env


def background(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def rules_for_the_test(root: Path, out: Path) -> Path:
    """The project's rule file with the ``for:`` of the alerts under test shortened."""
    rules = yaml.safe_load((root / "deploy" / "alerts.yaml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") in FAST_ALERTS:
                rule["for"] = FAST_ALERTS[rule["alert"]]
    out.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    return out


def alertmanager_for_the_test(root: Path, hook_port: int, out: Path) -> Path:
    """The project's Alertmanager configuration, its hook on ``hook_port``, its timings short."""
    config = yaml.safe_load((root / "deploy" / "alertmanager.yml").read_text(encoding="utf-8"))
    config["route"].update(group_wait="1s", group_interval="2s", repeat_interval="1h")
    hook = config["receivers"][0]["webhook_configs"][0]
    hook["url"] = hook["url"].replace(":9095/", f":{hook_port}/")
    out.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return out


def journal(root: Path) -> list[dict[str, Any]]:
    path = root / "reports" / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def received(root: Path, name: str, status: str = "firing") -> list[dict[str, Any]]:
    return [e for e in journal(root) if e["event"] == "alert" and e["alertname"] == name and e["status"] == status]


def firing(prometheus: str, name: str) -> bool:
    alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return any(a["labels"]["alertname"] == name and a["state"] == "firing" for a in alerts)


class Traffic(threading.Thread):
    """Messages to ``/predict`` with each true label to ``/feedback``, round after round, a few
    milliseconds apart, until stopped; ``use`` changes the messages, ``pause`` and ``resume``
    hold it. Counts answers per status and model version."""

    def __init__(self, base: str, rows: list[tuple[str, str]], deadline_s: float) -> None:
        super().__init__(daemon=True)
        self.base, self.rows, self.deadline = base, rows, time.monotonic() + deadline_s
        self.halt, self.going = threading.Event(), threading.Event()
        self.going.set()
        self.statuses: dict[int, int] = {}
        self.versions: dict[str, int] = {}

    def use(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows

    def pause(self) -> None:
        self.going.clear()

    def resume(self) -> None:
        self.going.set()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.halt.is_set() and time.monotonic() < self.deadline:
                for text, label in self.rows:
                    self.going.wait(1)
                    if self.halt.is_set() or not self.going.is_set():
                        break
                    answer = client.post("/predict", json={"text": text})
                    self.statuses[answer.status_code] = self.statuses.get(answer.status_code, 0) + 1
                    if answer.status_code == 200:
                        body = answer.json()
                        self.versions[body["model_version"]] = self.versions.get(body["model_version"], 0) + 1
                        client.post("/feedback", json={"request_id": body["request_id"], "label": label})
                    time.sleep(0.004)


@pytest.fixture(scope="module")
def loop(project: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The API, the monitor every 3 s, Alertmanager, the alert hook and Prometheus, all on loopback."""
    prometheus_bin, alertmanager_bin = need("prometheus"), need("alertmanager")
    root, env = project
    work = tmp_path_factory.mktemp("servers")
    api_port, hook_port, am_port, prom_port = (free_port() for _ in range(4))
    (work / "fault").mkdir()
    (work / "fault" / "sitecustomize.py").write_text(FAULT, encoding="utf-8")
    flag = work / "fault.on"
    env = {**env, "SERVE_URL": f"http://127.0.0.1:{api_port}"}
    api_env = {**env, "PYTHONPATH": f"{work / 'fault'}{os.pathsep}{env['PYTHONPATH']}", "ML_FAULT_FLAG": str(flag)}
    prom_config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_for_the_test(root, work / "alerts.yaml"))],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{api_port}"]}]}],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(prom_config), encoding="utf-8")
    monitor = [sys.executable, "-m", "spam_classifier.monitor", *[o for o in OVERRIDES if o.startswith("monitor.")]]
    with ExitStack() as stack:
        base, _ = stack.enter_context(
            running_server(
                [sys.executable, "-m", "spam_classifier.api", f"serve.port={api_port}", "serve.host=127.0.0.1"],
                api_port,
                cwd=root,
                env=api_env,
            )
        )
        watch = background(
            [sys.executable, "-m", "mlcore.monitoring.watch", "--every", "3", "--reports", "reports", "--", *monitor],
            root,
            env,
            work / "watch.log",
        )
        stack.callback(stop, watch)
        hook = [sys.executable, "-m", "mlcore.monitoring.alerthook", "--job", JOB, "--port", str(hook_port)]
        hook += [
            "--journal",
            "reports/alerts.jsonl",
            "--action",
            f"retrain={sys.executable} -m spam_classifier.rollout autopilot",
        ]
        stack.enter_context(running_server(hook, hook_port, cwd=root, env=env, ready_path="/health"))
        am = [alertmanager_bin, f"--config.file={alertmanager_for_the_test(root, hook_port, work / 'am.yml')}"]
        am += [
            f"--storage.path={work / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ]
        stack.enter_context(running_server(am, am_port, cwd=work, env=env, ready_path="/-/ready"))
        prom = [prometheus_bin, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'prom-data'}"]
        prom += [f"--web.listen-address=127.0.0.1:{prom_port}"]
        prometheus, _ = stack.enter_context(running_server(prom, prom_port, cwd=work, env=env, ready_path="/-/ready"))
        yield {"root": root, "api": base, "prometheus": prometheus, "flag": flag, "work": work, "times": {}}


def test_a_fault_fires_the_error_alert_which_reaches_the_hook_and_starts_no_retrain(loop: dict[str, Any]) -> None:
    root, flag = loop["root"], loop["flag"]
    flag.write_text("on")
    started = time.monotonic()
    traffic = Traffic(loop["api"], [("free entry now", "spam")], deadline_s=300)
    traffic.start()
    try:
        wait_until(
            lambda: received(root, "ErrorBudgetBurnFast"),
            "ErrorBudgetBurnFast to reach the hook through Alertmanager",
            timeout=240,
            seen=lambda: f"statuses {traffic.statuses}; journal {journal(root)[-3:]}",
        )
    finally:
        traffic.halt.set()
        traffic.join(30)
        flag.unlink()
    loop["times"]["error alert at the hook (s after the fault)"] = round(time.monotonic() - started, 1)
    assert traffic.statuses.get(500, 0) > 0 and set(traffic.statuses) == {500}, traffic.statuses
    entry = received(root, "ErrorBudgetBurnFast")[0]
    assert entry["decision"].startswith("recorded: no action label"), entry
    assert not any(e.get("decision", "").startswith("started") for e in journal(root))


def test_shifted_traffic_fires_drift_and_the_hook_retrains_promotes_and_the_alert_resolves(
    loop: dict[str, Any],
) -> None:
    from demo_loop import shifted
    from mlcore.data.stages import split_path
    from mlcore.foundation.config import load_params

    root, api, prometheus, times = loop["root"], loop["api"], loop["prometheus"], loop["times"]
    cfg = load_params(root / "params.yaml")
    # the shifted training messages until the retrain starts (their feedback is what it learns
    # from), then messages no model has seen, shifted the same way, for the canary, the A/B test
    # and the drift checks after the promotion
    seen_pool = shifted(pd.read_parquet(split_path(cfg, root, "train")))
    new_pool = shifted(pd.concat([pd.read_parquet(split_path(cfg, root, name)) for name in ("val", "test")]))
    before = httpx.get(f"{api}/ready", timeout=10).json()["model_version"]
    started = time.monotonic()
    traffic = Traffic(api, seen_pool, deadline_s=900)
    traffic.start()

    def mark(name: str) -> None:
        times[name] = round(time.monotonic() - started, 1)

    def seen() -> str:
        return f"answers {traffic.versions} {traffic.statuses}; journal {journal(root)[-3:]}"

    try:
        wait_until(
            lambda: firing(prometheus, "DriftDetected"), "DriftDetected firing in Prometheus", timeout=300, seen=seen
        )
        mark("drift alert firing in Prometheus")
        wait_until(
            lambda: any(e["decision"].startswith("started: retrain") for e in received(root, "DriftDetected")),
            "the hook to start the retrain",
            timeout=120,
            seen=seen,
        )
        traffic.pause()
        mark("retrain started by the hook")
        wait_until(
            lambda: httpx.get(f"{api}/rollout", timeout=10).json()["mode"] != "champion",
            "the retrained challenger in canary",
            timeout=600,
            every=0.5,
            seen=seen,
        )
        mark("challenger in canary")
        traffic.use(new_pool)
        traffic.resume()
        done = lambda: [e for e in journal(root) if e["event"] == "action_done"]  # noqa: E731
        wait_until(done, "the autopilot to finish", timeout=600, seen=seen)
        mark("autopilot finished")
        outcome = done()[0]
        log = Path(outcome["output"]).read_text(encoding="utf-8")
        assert outcome["exit_code"] == 0, log[-4000:]
        after = httpx.get(f"{api}/ready", timeout=10).json()["model_version"]
        assert after != before and int(after) > int(before), log[-4000:]
        wait_until(
            lambda: received(root, "DriftDetected", "resolved"), "DriftDetected to resolve", timeout=300, seen=seen
        )
        mark("drift alert resolved")
    finally:
        traffic.halt.set()
        traffic.join(30)
    assert "won the A/B test" in log and f"v{after} is @champion" in log, log[-4000:]
    assert traffic.versions.get(after, 0) > 0 and traffic.statuses.get(500, 0) == 0, traffic.statuses
    drift_runs = len(received(root, "DriftDetected"))
    assert sum(e.get("decision", "").startswith("started") for e in journal(root)) == 1, (
        f"one retrain for {drift_runs} notifications"
    )
    (root / "reports" / "loop_times.json").write_text(json.dumps(times, indent=2), encoding="utf-8")
    print("alert loop times (s):", json.dumps(times, indent=2))
    print("\n".join(line for line in log.splitlines() if line.startswith(("[retrain]", "[autopilot]", "[rollout]"))))


def test_every_dashboard_panel_returns_data_from_the_running_prometheus(loop: dict[str, Any]) -> None:
    board = json.loads((loop["root"] / "deploy" / "grafana" / "dashboard.json").read_text(encoding="utf-8"))
    empty = []
    for panel in board["panels"]:
        for target in panel["targets"]:
            answer = httpx.get(
                f"{loop['prometheus']}/api/v1/query", params={"query": target["expr"]}, timeout=30
            ).json()
            if answer["status"] != "success" or not answer["data"]["result"]:
                empty.append(f"{panel['title']} [{target['refId']}]: {answer.get('error') or 'no series'}")
    assert not empty, "\n".join(empty)
