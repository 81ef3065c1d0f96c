"""The serving image, built from the Dockerfile with the promoted model inside and run for real.

It runs on loopback only (host network, 127.0.0.1), read-only, as the image's non-root user. The
tests need podman or docker; without one they are skipped, unless ``ML_REQUIRE_CONTAINERS=1`` (the
suite's ``make test`` sets it) makes that a failure.
"""

from __future__ import annotations

import socket
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
from mlcore.deploy.container import Container, run_args, running_container
from mlcore.deploy.engine import Engine
from mlcore.deploy.image import LABEL, Built
from mlcore.foundation.waiting import wait_until
from mlcore.serving.smoke import free_port

from housing_price.predictor import SERVED
from housing_price.schemas import Item

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
USER = "10001"  # the Dockerfile's non-root user
EXAMPLE = Item.model_config["json_schema_extra"]["examples"][0]


@pytest.fixture(scope="module")
def container(engine: Engine, image: Built, admin_token: tuple[str, str]) -> Iterator[Container]:
    # a file secret, read by its owner only (an env secret shows in `podman inspect`: tested below)
    secret = f"{admin_token[0]},target=admin-token,uid={USER},mode=0400"
    env = {"ADMIN_TOKEN_FILE": "/run/secrets/admin-token"}
    args = ["serve.prefer_registry=false", "serve.workers=2"]  # as the benchmark runs it; PORT from the environment
    with running_container(engine, image.ref, free_port(), secrets=[secret], env=env, args=args) as running:
        yield running


def test_the_exported_champion_is_readable_by_other_users(trained: dict[str, Any]) -> None:
    export = trained["root"] / trained["cfg"].paths.export
    for path in [export, *export.rglob("*")]:
        mode = path.stat().st_mode
        wanted = stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)
        assert mode & wanted == wanted, f"{path} has mode {oct(mode)}: the image's user could not read it"


def test_tags_and_labels_name_the_project_the_model_version_and_the_commit(
    engine: Engine, image: Built, trained: dict[str, Any]
) -> None:
    inspected = engine.inspect(image.ref)
    config = inspected["Config"]
    labels, version = config["Labels"], trained["decision"].version
    assert labels[f"{LABEL}.title"] == trained["cfg"].project.name
    assert labels[f"{LABEL}.version"] == f"v{version}" and labels["io.mlsuite.model.version"] == version
    assert labels["io.mlsuite.model.run_id"] == trained["run_info"]["run_id"]
    assert labels[f"{LABEL}.revision"] and labels[f"{LABEL}.created"]
    assert config["User"] == USER
    check = config.get("Healthcheck") or inspected.get("Healthcheck") or {}  # docker | podman
    assert "/ready" in " ".join(check.get("Test", [])), "HEALTHCHECK kept (podman: built with --format docker)"


def test_the_runtime_image_holds_the_serving_set_only(engine: Engine, image: Built) -> None:
    probe = (
        "import importlib.util as u; print([m for m in ('torch', 'transformers', 'dvc', 'pytest') if u.find_spec(m)])"
    )
    done = engine.run(
        "run", "--rm", *engine.run_flags(), "--network=none", "--entrypoint", "python", image.ref, "-c", probe
    )
    assert done.stdout.strip() == "[]", done.stdout
    found = engine.run(
        "run", "--rm", *engine.run_flags(), "--network=none", "--entrypoint", "find", image.ref, "/app",
        "-name", ".admin-token", "-o", "-name", "*.db", "-o", "-name", ".env", "-o", "-name", ".git",
    )  # fmt: skip
    assert found.stdout.strip() == "", f"secrets or local state in the image: {found.stdout}"


def test_starts_with_no_network_but_loopback(engine: Engine, image: Built) -> None:
    name = f"mlsuite-test-{uuid.uuid4().hex[:10]}"
    engine.run(*run_args(engine, image.ref, name, None, network="none"))
    try:
        wait_until(
            lambda: engine.healthy(name),
            "the HEALTHCHECK (GET /ready inside the container) to pass with no network",
            timeout=180,
            every=0.5,
            seen=lambda: engine.run("logs", name, check=False).stderr[-2000:],
        )
    finally:
        engine.run("rm", "-f", "-v", name, check=False)


def test_answers_as_the_service_outside_the_container(
    container: Container, server: str, trained: dict[str, Any]
) -> None:
    test = pd.read_parquet(trained["root"] / trained["cfg"].paths.processed / "test.parquet")
    body = {"items": SERVED.request_items(test.head(16))}
    inside = httpx.post(f"{container.base}/predict", json=body, timeout=60)
    outside = httpx.post(f"{server}/predict", json=body, timeout=60)
    assert inside.status_code == outside.status_code == 200, inside.text
    assert inside.json()["predictions"] == outside.json()["predictions"]
    assert inside.json()["model_version"] == outside.json()["model_version"] == trained["decision"].version


def test_runs_as_a_non_root_user_on_a_read_only_root(engine: Engine, container: Container) -> None:
    assert container.exec("id", "-u") == (0, USER)
    as_root = engine.run("exec", "--user", "0", container.name, "touch", "/app/params.yaml", check=False)
    assert as_root.returncode != 0 and "Read-only file system" in as_root.stderr, "even root cannot write there"
    assert engine.inspect(container.name, "container")["HostConfig"]["ReadonlyRootfs"] is True
    wait_until(  # the prediction log is written to the logs volume, the one writable place
        lambda: container.exec("test", "-s", "logs/predictions.db")[0] == 0,
        "logs/predictions.db in the container's logs volume",
        timeout=60,
    )


def test_healthcheck_reports_healthy(engine: Engine, container: Container) -> None:
    wait_until(lambda: engine.healthy(container.name), "the HEALTHCHECK to pass", timeout=120, seen=container.logs)


def test_admin_token_comes_from_a_secret_and_shows_nowhere(
    engine: Engine, image: Built, container: Container, admin_token: tuple[str, str]
) -> None:
    token = admin_token[1]
    url = f"{container.base}/admin/rollout"
    assert httpx.post(url, json={"mode": "champion"}, headers={"x-admin-token": "guess"}).status_code == 403
    allowed = httpx.post(url, json={"mode": "champion"}, headers={"x-admin-token": token}, timeout=60)
    assert allowed.status_code == 200, allowed.text
    shown = [
        engine.run("inspect", container.name).stdout,
        engine.run("image", "inspect", image.ref).stdout,
        engine.run("history", "--no-trunc", image.ref).stdout,
    ]
    assert not any(token in text for text in shown), "the admin token is visible in inspect or history"
    names = [entry.split("=", 1)[0] for entry in engine.inspect(image.ref)["Config"]["Env"]]
    assert not [n for n in names if any(word in n for word in ("TOKEN", "PASSWORD", "SECRET"))], names


def test_sigterm_drains_the_request_in_flight_and_exits_0(engine: Engine, image: Built) -> None:
    body = orjson.dumps(EXAMPLE)
    with running_container(engine, image.ref, free_port()) as running:
        port = int(running.base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            head = f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            sock.sendall(head.encode() + body[:5])  # the request is in flight: headers sent, body not yet
            engine.run("kill", "--signal", "TERM", running.name)
            wait_until(
                lambda: "Shutting down" in running.logs(), "the server to log that it is shutting down", timeout=60
            )
            sock.sendall(body[5:])
            answer = sock.recv(65536).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 200"), answer[:300]
        wait_until(lambda: running.state().get("Running") is False, "the container to stop after SIGTERM", timeout=60)
        assert running.state()["ExitCode"] == 0, running.logs()
