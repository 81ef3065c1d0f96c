"""mlcore's app under uvicorn on loopback (``demo_api.py``): what only a real server shows."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
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


def server_log(root: Path, port: int) -> str:
    return (root / f".server-{port}.log").read_text(encoding="utf-8", errors="replace")


def test_starts_from_the_export_when_the_registry_is_unreachable_and_leaks_no_password(tmp_path: Path) -> None:
    export(tmp_path / "export", "7", 2.0)
    port, closed = free_port(), free_port()  # nothing listens on `closed`
    uri = f"http://alice:pw-s3cr3t@127.0.0.1:{closed}"
    fields = ["prefer_registry=true", f'tracking_uri="{uri}"', "registry_timeout_s=15", "registry_retry_s=1"]
    started = time.monotonic()
    with running_server(serve_cmd(tmp_path, port, *fields), port, cwd=tmp_path, timeout=60) as (base, _):
        waited = time.monotonic() - started
        ready, metadata = httpx.get(f"{base}/ready").json(), httpx.get(f"{base}/metadata").json()
        answer = httpx.post(f"{base}/predict", json={"x": 2})
        time.sleep(2.5)  # the background retries run (and fail) meanwhile
        bodies = [json.dumps(ready), json.dumps(metadata), answer.text, httpx.get(f"{base}/ready").text]
        logged = server_log(tmp_path, port)
    assert waited < 15, waited
    assert ready["served_from"] == metadata["served_from"] == "local export"
    assert ready["registry"] == "the model registry is unreachable" and ready["model_version"] == "7"
    assert answer.status_code == 200 and answer.json()["y"] == 4.0
    assert "registry still unavailable" in logged and "alice:***@" in logged
    for text in [*bodies, logged]:
        assert "pw-s3cr3t" not in text


def test_switches_to_the_champion_once_the_registry_answers(tmp_path: Path) -> None:
    export(tmp_path / "export", "1", 2.0)
    store = tmp_path / "store"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    port = free_port()
    fields = ["prefer_registry=true", f'tracking_uri="{uri}"', "registry_retry_s=1"]
    with running_server(serve_cmd(tmp_path, port, *fields), port, cwd=tmp_path, timeout=60) as (base, _):
        assert httpx.get(f"{base}/ready").json()["registry"] == "the model registry has no demo@champion"
        assert httpx.post(f"{base}/predict", json={"x": 2}).json()["y"] == 4.0
        register_champion(uri, store, factor=3.0)
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/ready").json()["served_from"] != "registry" and time.monotonic() < deadline:
            time.sleep(0.5)
        ready = httpx.get(f"{base}/ready").json()
        answer = httpx.post(f"{base}/predict", json={"x": 2}).json()
    assert ready["served_from"] == "registry" and "registry" not in ready
    assert answer["y"] == 6.0


def register_champion(uri: str, store: Path, factor: float) -> None:
    """Register a model version of ``demo`` (a ``factor.txt``) and point ``@champion`` at it."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("demo", artifact_location=(store / "artifacts").as_uri())
    run = client.create_run(experiment)
    folder = store / "model"
    folder.mkdir()
    (folder / "factor.txt").write_text(str(factor))
    client.log_artifacts(run.info.run_id, str(folder), artifact_path="model")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("demo")
    version = client.create_model_version("demo", f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias("demo", "champion", version.version)


def test_without_any_model_errors_say_what_to_do_without_paths(tmp_path: Path) -> None:
    port = free_port()
    with running_server(serve_cmd(tmp_path, port), port, cwd=tmp_path, ready_path="/health") as (base, _):
        answers = [
            httpx.get(f"{base}/ready"),
            httpx.get(f"{base}/metadata"),
            httpx.post(f"{base}/predict", json={"x": 1}),
            httpx.post(f"{base}/admin/reload"),
        ]
        logged = server_log(tmp_path, port)
    assert [a.status_code for a in answers] == [503] * 4
    for answer in answers:
        assert "make train" in answer.json()["error"], answer.text
        assert str(tmp_path) not in answer.text and "/export" not in answer.text, answer.text
    assert str(tmp_path / "export") in logged  # the operator sees where it looked


def test_slow_clients_are_cut_off_while_predictions_keep_flowing(tmp_path: Path) -> None:
    """Unfinished headers, a trickled header, and a body shorter than its Content-Length each get
    408 and a closed connection after their deadline (1 s here); other clients are served meanwhile."""
    import socket

    export(tmp_path / "export", "1", 2.0)
    port = free_port()
    limits = 'client_limits={"header_timeout_s": 1, "body_timeout_s": 1}'
    with running_server(serve_cmd(tmp_path, port, limits), port, cwd=tmp_path) as (base, _):
        slow: list[socket.socket] = []
        for opening in (
            b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # headers never end
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        ):
            for _ in range(40):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(opening)
                slow.append(sock)
        trickle = socket.create_connection(("127.0.0.1", port), timeout=5)
        trickle.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Pad: ")
        started = time.monotonic()
        codes: list[int] = []
        with httpx.Client(base_url=base, timeout=5) as client:
            while time.monotonic() - started < 2.5:
                codes.append(client.post("/predict", json={"x": 1}).status_code)
                if len(codes) % 10 == 0:
                    with contextlib.suppress(OSError):  # one more header byte now and then: no help
                        trickle.sendall(b"a")
        answers = []
        for sock in [*slow, trickle]:
            received = b""
            with contextlib.suppress(OSError):
                while chunk := sock.recv(4096):
                    received += chunk
            sock.close()
            answers.append(received)
    assert len(codes) > 50 and set(codes) == {200}
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), {a[:40] for a in answers}
    assert b"headers not received within 1 s" in answers[0] and b"body not received" in answers[-2]


def register_version(client: object, store: Path, factor: float) -> str:
    """One more version of ``demo`` (a ``factor.txt``) in the store; its version number."""
    run = client.create_run(client.get_experiment_by_name("demo").experiment_id)  # type: ignore[attr-defined]
    folder = store / f"model-{factor}"
    folder.mkdir()
    (folder / "factor.txt").write_text(str(factor))
    client.log_artifacts(run.info.run_id, str(folder), artifact_path="model")  # type: ignore[attr-defined]
    client.set_terminated(run.info.run_id)  # type: ignore[attr-defined]
    return str(client.create_model_version("demo", f"runs:/{run.info.run_id}/model", run.info.run_id).version)  # type: ignore[attr-defined]


def test_rollback_reaches_a_running_server_with_no_failed_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make rollback`'s command under load: the server switches back and every request succeeds."""
    import mlflow
    from mlcore.lifecycle import alias_commands, champion
    from omegaconf import OmegaConf

    store = tmp_path / "store"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_experiment("demo", artifact_location=(store / "artifacts").as_uri())
    client.create_registered_model("demo")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    champion.move_champion("demo", register_version(client, store, 2.0), via="pipeline", why="first")
    champion.move_champion("demo", register_version(client, store, 3.0), via="pipeline", why="second")
    port = free_port()
    cfg = OmegaConf.create(
        {
            "project": {"model_name": "demo", "experiment": "demo"},
            "paths": {"export": "export"},
            "serve": {"host": "127.0.0.1", "port": port, "admin_token": None},
        }
    )
    statuses: list[int] = []
    ys: list[float] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post("/predict", json={"x": 1})
                except httpx.TransportError:
                    statuses.append(-1)
                    continue
                statuses.append(response.status_code)
                if response.status_code == 200:
                    ys.append(response.json()["y"])

    fields = ["prefer_registry=true", f'tracking_uri="{uri}"']
    with running_server(serve_cmd(tmp_path, port, *fields), port, cwd=tmp_path, timeout=60) as (base, _):
        assert httpx.get(f"{base}/ready").json()["model_version"] == "2"
        threads = [threading.Thread(target=load, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        assert alias_commands.run(cfg, tmp_path, "rollback", why="v2 answers wrong") == 0
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(10)
        ready = httpx.get(f"{base}/ready").json()
        again = alias_commands.run(cfg, tmp_path, "rollback", why="twice")
    assert ready["model_version"] == "1"
    assert len(statuses) > 50 and set(statuses) == {200}, Counter(statuses)
    assert ys[0] == 3.0 and ys[-1] == 2.0 and set(ys) == {2.0, 3.0}
    assert again == 0 and champion.alias_version("demo", "champion").version == 1
    assert json.loads((tmp_path / "export" / "serving_metadata.json").read_text())["version"] == "1"
