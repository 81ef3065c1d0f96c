"""What a training run records: git state, datasets, the experiment's kind and description."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from mlcore.lifecycle import tracking


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    project = tmp_path / "repo" / "proj"
    (project / "src").mkdir(parents=True)
    (project / "src" / "code.py").write_text("x = 1\n")
    (project / "params.yaml").write_text("a: 1\n")
    (project / "dvc.lock").write_text("schema: '2.0'\n")
    git(project.parent, "init", "-q")
    git(project.parent, "add", ".")
    git(project.parent, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    return project


def test_files_the_pipeline_writes_do_not_make_the_tree_dirty(repo: Path) -> None:
    sha, dirty = tracking.git_state(repo)
    assert len(sha) == 40 and not dirty
    (repo / "params.yaml").write_text("a: 2\n")
    (repo / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    assert tracking.git_state(repo) == (sha, False)
    (repo / "src" / "code.py").write_text("x = 2\n")
    assert tracking.git_state(repo) == (sha, True)


def test_run_records_git_state_and_datasets_and_experiment_is_model_training(tmp_path: Path, repo: Path) -> None:
    import mlflow

    tracking._SET_BY_US.clear()
    data = tmp_path / "train.parquet"
    pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}).to_parquet(data)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    exp_id = client.create_experiment("demo", artifact_location=(tmp_path / "art").as_uri())
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_run() as run:
        tracking.log_run_context(repo, {"a": 1}, {"train": data})
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["git.commit"] == tracking.git_state(repo)[0] and not tags["git.commit"].endswith("-dirty")
    assert tags["git.dirty"] == "false"
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert [i.tags[0].value for i in inputs] == ["train"]


def test_credentials_in_the_config_never_reach_the_run(tmp_path: Path, repo: Path) -> None:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    mlflow.set_experiment(experiment_id=client.create_experiment("c", artifact_location=(tmp_path / "a").as_uri()))
    config = {"data": {"source": {"url": "https://bob:hunter2@data.example/x.zip"}}}
    with mlflow.start_run() as run:
        tracking.log_run_context(repo, config, {})
    logged = client.get_run(run.info.run_id).data.params["data.source.url"]
    assert logged == "https://bob:***@data.example/x.zip"
    saved = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="config/resolved.yaml"))
    assert "hunter2" not in saved.read_text() and config["data"]["source"]["url"].endswith("x.zip")


def test_experiment_opens_on_model_training_and_has_a_description(
    tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    monkeypatch.setenv("ML_STORE_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = tracking.configure(repo, "demo-exp")
    tags = mlflow.MlflowClient().get_experiment(exp_id).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    assert "make train" in tags["mlflow.note.content"]
    assert tracking.experiment_url(exp_id).endswith(f"/#/experiments/{exp_id}/runs?workflowType=machine_learning")


HOLD_A_RUN = """
import sys, time
import mlflow
from mlcore.lifecycle import tracking
from mlcore.lifecycle.runs import owned_run

tracking.configure(sys.argv[1], "runs")
with owned_run(run_name="training") as run:
    model = mlflow.initialize_logged_model(name="model", source_run_id=run.info.run_id)
    print(run.info.run_id, model.model_id, flush=True)
    time.sleep(600)  # deliberate: hold the run open until the test kills this process
"""


def hold_a_run(store: Path) -> tuple[subprocess.Popen[str], str, str]:
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_RUN, str(store)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout is not None
    run_id, model_id = proc.stdout.readline().split()
    return proc, run_id, model_id


def test_a_killed_run_is_marked_failed_by_the_next_one_and_a_live_one_is_left_alone(store: Path) -> None:
    """kill -9 leaves a run RUNNING with a PENDING model; the next stage's configure() marks both
    FAILED. SIGTERM closes the run as FAILED at once. A run whose process lives stays RUNNING."""
    import signal

    import mlflow
    from mlcore.lifecycle.runs import ABANDONED

    killed, killed_run, killed_model = hold_a_run(store)
    termed, termed_run, _ = hold_a_run(store)
    living, living_run, _ = hold_a_run(store)
    try:
        killed.send_signal(signal.SIGKILL)
        termed.send_signal(signal.SIGTERM)
        killed.wait(10)
        termed.wait(30)
        client = mlflow.MlflowClient(tracking.tracking_uri(store))
        assert client.get_run(killed_run).info.status == "RUNNING"  # what MLflow alone leaves behind
        assert client.get_run(termed_run).info.status == "FAILED"
        tracking.configure(store, "runs")
        run = client.get_run(killed_run)
        assert run.info.status == "FAILED" and "ended without closing the run" in run.data.tags[ABANDONED]
        assert client.get_logged_model(killed_model).status.name == "FAILED"
        assert client.get_run(living_run).info.status == "RUNNING"
    finally:
        for proc in (killed, termed, living):
            proc.kill()
            proc.wait()
