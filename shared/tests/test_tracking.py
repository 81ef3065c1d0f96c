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
