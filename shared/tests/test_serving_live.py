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
from mlcore.foundation.waiting import wait_until
from mlcore.serving.predlog import count_rows
from mlcore.serving.smoke import free_port, running_server

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


def serve_cmd(root: Path, port: int, *fields: str) -> list[str]:
    return [sys.executable, str(HERE / "demo_api.py"), str(root), str(port), *fields]


class Load:
    """``threads`` keep-alive clients posting one item each until stopped; the time of each 200."""

    def __init__(self, base: str, threads: int = 6) -> None:
        self.base = base
        self.answered: list[float] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(threads)]

    def _client(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
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


def test_kill_9_under_load_keeps_every_committed_row_and_a_readable_log(tmp_path: Path) -> None:
    """Under sustained load the writer commits while the server answers (not at shutdown); after a
    SIGKILL the database passes its integrity check and keeps every row committed before the kill.
    How much a kill loses, in seconds of traffic, is a figure: benchmarks/predlog.py --kill."""
    export(tmp_path / "export", "1", 2.0)
    db, port = tmp_path / "log.db", free_port()
    with running_server(serve_cmd(tmp_path, port), port, cwd=tmp_path) as (base, proc), Load(base) as load:
        wait_until(lambda: len(load.answered) >= 300, "300 answers under load", seen=lambda: len(load.answered))
        before = wait_until(
            lambda: count_rows(db) >= 200 and count_rows(db),
            "200 rows committed while the load runs",
            seen=lambda: f"{count_rows(db)} rows committed, {len(load.answered)} answered",
        )
        assert not load.stop.is_set() and proc.poll() is None  # committed during the load, not at shutdown
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    answered, rows = len(load.answered), count_rows(db)
    conn = sqlite3.connect(db)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    print(json.dumps({"answered": answered, "committed_during_load": before, "rows_after_kill": rows}))
    assert integrity == "ok"
    assert rows >= before, (rows, before)


def server_log(root: Path, port: int) -> str:
    return (root / f".server-{port}.log").read_text(encoding="utf-8", errors="replace")


def test_starts_from_the_export_when_the_registry_is_unreachable_and_leaks_no_password(tmp_path: Path) -> None:
    export(tmp_path / "export", "7", 2.0)
    port, closed = free_port(), free_port()  # nothing listens on `closed`
    uri = f"http://alice:pw-s3cr3t@127.0.0.1:{closed}"
    fields = ["prefer_registry=true", f'tracking_uri="{uri}"', "registry_timeout_s=600", "registry_retry_s=1"]
    with running_server(serve_cmd(tmp_path, port, *fields), port, cwd=tmp_path) as (base, _):
        ready, metadata = httpx.get(f"{base}/ready").json(), httpx.get(f"{base}/metadata").json()
        answer = httpx.post(f"{base}/predict", json={"x": 2})
        # the background retries run (and fail) meanwhile; the first failure is logged
        wait_until(
            lambda: "registry still unavailable" in server_log(tmp_path, port),
            "the retry child to log 'registry still unavailable'",
            seen=lambda: server_log(tmp_path, port)[-2000:],
        )
        bodies = [json.dumps(ready), json.dumps(metadata), answer.text, httpx.get(f"{base}/ready").text]
        logged = server_log(tmp_path, port)
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
    with running_server(serve_cmd(tmp_path, port, *fields), port, cwd=tmp_path) as (base, _):
        assert httpx.get(f"{base}/ready").json()["registry"] == "the model registry has no demo@champion"
        assert httpx.post(f"{base}/predict", json={"x": 2}).json()["y"] == 4.0
        register_champion(uri, store, factor=3.0)
        ready = wait_until(
            lambda: (now := httpx.get(f"{base}/ready").json())["served_from"] == "registry" and now,
            "the server to switch to the registry's champion",
            seen=lambda: httpx.get(f"{base}/ready").text,
        )
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
    import select
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
        codes: list[int] = []
        answers: dict[socket.socket, bytes] = {}
        with httpx.Client(base_url=base, timeout=30) as client:

            def served_while_slow_ones_wait() -> bool:
                """One more request; true once every slow connection was answered and closed."""
                codes.append(client.post("/predict", json={"x": 1}).status_code)
                if len(codes) % 10 == 0:
                    with contextlib.suppress(OSError):  # one more header byte now and then: no help
                        trickle.sendall(b"a")
                readable, _, _ = select.select([sock for sock in [*slow, trickle] if sock not in answers], [], [], 0)
                for sock in readable:
                    received = b""
                    with contextlib.suppress(OSError):
                        while chunk := sock.recv(4096):
                            received += chunk
                    answers[sock] = received
                return len(answers) == len(slow) + 1 and len(codes) >= 20

            wait_until(
                served_while_slow_ones_wait,
                "every slow connection to be cut off while requests are served",
                every=0.01,
                seen=lambda: f"{len(answers)} of {len(slow) + 1} cut off, answer codes {Counter(codes)}",
            )
        ordered = [answers[sock] for sock in [*slow, trickle]]
        for sock in [*slow, trickle]:
            sock.close()
    assert set(codes) == {200}, Counter(codes)
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in ordered), {a[:40] for a in ordered}
    assert b"headers not received within 1 s" in ordered[0] and b"body not received" in ordered[-2]


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
            "serve": {"host": "127.0.0.1", "port": port, "admin_token": None, "admin_token_file": ".admin-token"},
        }
    )
    statuses: list[int] = []
    ys: list[float] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            while not stop.is_set():
                try:
                    response = http.post("/predict", json={"x": 1})
                except httpx.TransportError:
                    statuses.append(-1)
                    continue
                statuses.append(response.status_code)
                if response.status_code == 200:
                    ys.append(response.json()["y"])

    token_file = tmp_path / ".admin-token"  # as `make serve` sets it: generated at start, mode 0600
    fields = ["prefer_registry=true", f'tracking_uri="{uri}"', f'admin_token_file="{token_file}"']
    with running_server(serve_cmd(tmp_path, port, *fields), port, cwd=tmp_path) as (base, _):
        assert httpx.get(f"{base}/ready").json()["model_version"] == "2"
        assert httpx.post(f"{base}/admin/reload").status_code == 403, "the token is needed on loopback too"
        assert token_file.stat().st_mode & 0o077 == 0
        threads = [threading.Thread(target=load, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(ys) >= 20, "20 answers from v2 under load", seen=lambda: Counter(statuses))
        assert alias_commands.run(cfg, tmp_path, "rollback", why="v2 answers wrong") == 0
        switched = len(ys)
        wait_until(
            lambda: ys[switched:].count(2.0) >= 20,
            "20 answers from v1 after the rollback",
            seen=lambda: f"answers after the rollback: {Counter(ys[switched:])}, codes {Counter(statuses)}",
        )
        stop.set()
        for thread in threads:
            thread.join(10)
        ready = httpx.get(f"{base}/ready").json()
        again = alias_commands.run(cfg, tmp_path, "rollback", why="twice")
    assert ready["model_version"] == "1"
    assert len(statuses) >= 40 and set(statuses) == {200}, Counter(statuses)
    assert ys[0] == 3.0 and ys[-1] == 2.0 and set(ys) == {2.0, 3.0}
    assert again == 0 and champion.alias_version("demo", "champion").version == 1
    assert json.loads((tmp_path / "export" / "serving_metadata.json").read_text())["version"] == "1"


def test_a_crashing_route_answers_500_and_the_client_keeps_its_connection() -> None:
    """An exception no route handled is the 500 error answer, and the keep-alive connection stays
    usable (Starlette's handler re-raises and uvicorn then resets the connection)."""
    import threading

    import uvicorn
    from fastapi import FastAPI
    from mlcore.foundation.waiting import wait_until
    from mlcore.serving.errors import UnexpectedErrors
    from mlcore.serving.smoke import free_port

    app = FastAPI()
    app.add_middleware(UnexpectedErrors)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a model that fails")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "the server to start")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            answers = [client.get("/boom") for _ in range(5)]  # one connection, kept alive
        assert [a.status_code for a in answers] == [500] * 5
        assert answers[-1].json() == {"error": "internal error: RuntimeError"}
    finally:
        server.should_exit = True
        thread.join(30)
