"""`make team-up`: a real PostgreSQL cluster and MLflow server on loopback, used by a real project.

The cluster lives in a temporary folder on free ports; spam-classifier's pipeline (train ->
register -> promote, on its sample data) runs against the server through ``MLFLOW_TRACKING_URI``
alone, its API serves the champion fetched through the server, and the run is read back through
the server's REST API and from PostgreSQL itself. Both servers are stopped by PID / pg_ctl.
The same registry in containers, with the services' images fetching @champion from it, is the
stack's test (tests/stack).
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="module")
def registered(team: Team, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """spam-classifier's pipeline run against the team server alone (``MLFLOW_TRACKING_URI``)."""
    root = tmp_path_factory.mktemp("team-project") / "spam-classifier"
    for name in ("configs", "data/sample", "dvc.yaml", "pyproject.toml"):
        source = PROJECT / name
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", team.tracking_uri)  # the only change a project needs
        env.setenv("ML_STORE_ROOT", str(root))
        cfg = compose(root / "configs", ["debug=default"])
        write_params(cfg, root / "params.yaml")
        stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
        results = {}
        for stage in stages.values():
            module = stage["cmd"].split()[-1]
            results[module.rsplit(".", 1)[1]] = importlib.import_module(module).run(cfg, root)
        yield {"root": root, "cfg": cfg, "decision": results["promote"], "run_id": results["train"]["run_id"]}


def test_a_project_trains_registers_promotes_and_serves_through_the_team_server(
    team: Team, registered: dict[str, Any]
) -> None:
    import psycopg2

    root, cfg, decision, run_id = (registered[k] for k in ("root", "cfg", "decision", "run_id"))
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
    env |= {"MLFLOW_TRACKING_URI": team.tracking_uri, "ML_STORE_ROOT": str(root)}
    export = root / "no-export"  # the champion must come through the server
    cmd = [sys.executable, "-m", "spam_classifier.api", f"serve.port={port}", "serve.host=127.0.0.1"]
    cmd += [f"paths.export={export}"]
    with running_server(cmd, port, cwd=root, env=env, timeout=90) as (base, _):
        ready = httpx.get(f"{base}/ready").json()
        answer = httpx.post(f"{base}/predict", json={"text": "WINNER! Claim your free prize now"})
    assert ready["served_from"] == "registry" and ready["model_version"] == decision.version
    assert answer.status_code == 200 and answer.json()["model_version"] == decision.version
