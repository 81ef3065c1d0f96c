"""MLflow set-up and what every training run records.

Default store: one SQLite database at the suite root (``mlflow.db``) with artifacts beside it
(``mlartifacts/``), so ``make ui`` shows every project. ``MLFLOW_TRACKING_URI`` overrides it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlcore.foundation.paths import store_root
from mlcore.foundation.progress import say
from mlcore.foundation.redact import mask_credentials
from mlcore.foundation.served import ServedModel
from mlcore.lifecycle import runs

DB_NAME = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"


def quiet_environment() -> None:
    """Turn off telemetry and noisy defaults (called by every entry point, never at import)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


_SET_BY_US: set[str] = set()


def user_tracking_uri() -> str | None:
    """``MLFLOW_TRACKING_URI`` when a person set it (MLflow itself exports what we configure)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    return uri if uri and uri not in _SET_BY_US else None


def tracking_uri(project: str | Path) -> str:
    if uri := user_tracking_uri():
        return uri
    return f"sqlite:///{store_root(project) / DB_NAME}"


def artifact_root(project: str | Path) -> Path:
    return store_root(project) / ARTIFACTS_DIR


EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")  # the UI's model-training view


def experiment_url(experiment_id: str, ui: str = "http://127.0.0.1:5000") -> str:
    """Link to the experiment's runs in the MLflow UI (``make ui``), on the model-training view."""
    return f"{ui}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def configure(project: str | Path, experiment: str, description: str | None = None) -> str:
    """Point MLflow at the store and select (or create) ``experiment``; return its id.

    The experiment is marked as model training (the UI then opens on runs, not GenAI traces) and
    gets a description (``mlflow.note.content``) unless it has one. Runs that killed processes
    left ``RUNNING`` are marked ``FAILED`` (``mlcore.lifecycle.runs``)."""
    quiet_environment()
    import mlflow

    uri = tracking_uri(project)
    user_uri = user_tracking_uri()
    if user_uri is None:
        _SET_BY_US.add(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        location = None if user_uri else (artifact_root(project) / experiment).as_uri()
        exp_id = client.create_experiment(experiment, artifact_location=location)
    else:
        exp_id = exp.experiment_id
    tags = exp.tags if exp is not None else {}
    if tags.get(EXPERIMENT_KIND[0]) != EXPERIMENT_KIND[1]:
        client.set_experiment_tag(exp_id, *EXPERIMENT_KIND)
    if "mlflow.note.content" not in tags:
        text = description or (
            f"Runs of the `{Path(project).resolve().name}` project: training (`make train`), sweeps "
            "(`make sweep`, one parent run with a child run per trial) and the evaluation of each trained model."
        )
        client.set_experiment_tag(exp_id, "mlflow.note.content", text)
    mlflow.set_experiment(experiment_id=exp_id)
    for run_id in runs.fail_abandoned_runs(client, exp_id):
        say("tracking", f"run {run_id} was left RUNNING by a killed process: marked FAILED")
    return exp_id


# Files the pipeline itself rewrites (composed config, DVC's lock): changing them does not make
# the code a run trained with differ from the commit.
GENERATED = ("params.yaml", "dvc.lock")


def git_state(project: str | Path) -> tuple[str, bool]:
    """HEAD commit of the repository holding ``project`` and whether the project's files differ
    from it (files the pipeline writes itself, ``GENERATED``, do not count)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=True
        ).stdout.strip()
        excluded = [f":(exclude,glob)**/{name}" for name in GENERATED]
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", *excluded],
            cwd=project,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown", False
    return sha, bool(changes)


def dvc_md5(path: str | Path) -> str:
    """The hash DVC 3 records for a file (md5 of its bytes) or a directory (md5 of its listing)."""
    path = Path(path)
    if path.is_file():
        digest = hashlib.md5()  # noqa: S324 - DVC's content hash, not security
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    entries = sorted(p for p in path.rglob("*") if p.is_file())
    listing = "".join(f"{p.relative_to(path).as_posix()}:{dvc_md5(p)}\n" for p in entries)
    return hashlib.md5(listing.encode()).hexdigest() + ".dir"  # noqa: S324


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def log_run_context(
    project: str | Path, config: Mapping[str, Any], data_files: Mapping[str, str | Path]
) -> dict[str, str]:
    """Record the resolved config, params, git commit and data hashes on the active run."""
    import mlflow
    import yaml

    commit, dirty = git_state(project)
    tags = {"git.commit": commit, "git.dirty": str(dirty).lower(), "python": platform.python_version()}
    for name, path in data_files.items():
        tags[f"data.{name}.md5"] = dvc_md5(path)
    mlflow.set_tags(tags)
    log_datasets(data_files)
    # Credentials in a configured URI (a data source, a store) never reach the tracking server.
    config = yaml.safe_load(mask_credentials(yaml.safe_dump(dict(config), sort_keys=False)))
    mlflow.log_dict(config, "config/resolved.yaml")
    params = {k: str(v)[:500] for k, v in flatten(config).items() if not k.startswith(("serve.", "monitor."))}
    mlflow.log_params(params)
    return tags


def log_datasets(data_files: Mapping[str, str | Path]) -> None:
    """Each data split as an MLflow dataset input of the active run (context = the split's name)."""
    import warnings

    import mlflow
    import pandas as pd

    for name, path in data_files.items():
        frame = pd.read_parquet(path)
        with warnings.catch_warnings():  # MLflow's hints on source kinds and integer columns: not actionable here
            warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
            dataset = mlflow.data.from_pandas(
                frame, source=str(path), name=f"{Path(path).parent.name}/{Path(path).name}"
            )
            mlflow.log_input(dataset, context=name)


def pip_requirements(packages: Iterable[str]) -> list[str]:
    """Explicit ``name==version`` requirements (inferring them costs MLflow ~8 s a model)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in packages]


# What every logged model needs to load and answer, besides its flavor's own packages: what the
# project's predictor and request schema import (saved with the model as code).
MODEL_REQUIREMENTS = ("mlflow", "pandas", "pydantic", "omegaconf")


def log_training_run(
    *,
    root: str | Path,
    config: Mapping[str, Any],
    predictor: Any,
    native_model: Any,
    served: ServedModel,
    metrics: Mapping[str, float],
    profile: Mapping[str, Any],
    metadata: Mapping[str, Any],
    input_example: Any,
    data_files: Mapping[str, str | Path],
    local_dir: str | Path,
    run_name: str,
    extras: Mapping[str, Any] | None = None,
    child_runs: Sequence[Mapping[str, Any]] = (),
    history: Sequence[Mapping[str, float]] = (),
    shipped_files: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Log one training run: context, metrics and the model, then copy the logged model to
    ``local_dir`` (the DVC output). Returns the run info the later stages read.

    The model is ``native_model`` in two flavors (see ``mlcore.lifecycle.pyfunc``): its native one
    (``mlcore.lifecycle.flavors``) and ``python_function``, which answers as the API does through
    the project's ``served`` model and ``predictor``. It carries a signature taken from the request schema,
    the input example, explicit pip requirements, ``metadata`` (threshold, labels, ...), the drift
    reference ``profile``, the task's JSON ``extras`` (``mlcore.lifecycle.artifacts`` names the files),
    ``shipped_files`` written by the caller (the compiled fast path, ``mlcore.fastpath``), and the
    project's package and mlcore as code. ``child_runs`` (``{"run_name", "params",
    "metrics"}`` each, e.g. the k sweep) become nested runs; ``history`` (per-epoch rows) becomes
    metric curves ``epoch_<name>`` with the epoch as step.
    """
    import shutil
    import tempfile
    import warnings

    import mlflow
    from mlflow.models import ModelSignature, infer_signature

    from mlcore.lifecycle import artifacts, pyfunc
    from mlcore.lifecycle.flavors import for_model

    output_example = pyfunc.SuiteModel(served, predictor).predict(input_example)
    with warnings.catch_warnings():  # MLflow's hint on integer columns: answers never miss a value
        warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
        outputs = infer_signature(input_example, output_example).outputs
    signature = ModelSignature(inputs=pyfunc.input_schema(served.item, list(input_example.columns)), outputs=outputs)
    requirements = [*MODEL_REQUIREMENTS, *for_model(native_model).requirements]
    with tempfile.TemporaryDirectory() as tmp:
        extra_files = artifacts.write_extras(Path(tmp) / "extra", profile, extras or {})
        extra_files += [str(path) for path in shipped_files]
        code_paths = pyfunc.package_code([served.package, "mlcore"], Path(tmp) / "code")
        with runs.owned_run(run_name=run_name) as run:
            log_run_context(root, config, data_files)
            for child in child_runs:
                with runs.owned_run(run_name=child["run_name"], nested=True):
                    mlflow.log_params({k: str(v) for k, v in child.get("params", {}).items()})
                    mlflow.log_metrics(dict(child.get("metrics", {})))
            for row in history:  # per-epoch curves (step = epoch)
                step = int(row.get("epoch", 0))
                mlflow.log_metrics({f"epoch_{k}": float(v) for k, v in row.items() if k != "epoch"}, step=step)
            mlflow.log_metrics(dict(metrics))
            info = pyfunc.log_model(
                "model",
                native_model=native_model,
                served_home=served.home,
                code_paths=code_paths,
                signature=signature,
                input_example=input_example,
                pip_requirements=pip_requirements(requirements),
                metadata=dict(metadata),
                extra_files=extra_files,
            )
    local = Path(local_dir)
    shutil.rmtree(local, ignore_errors=True)
    mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=str(local))
    say("train", f"in the MLflow UI (`make ui`): {experiment_url(run.info.experiment_id)}")
    return {
        "run_id": run.info.run_id,
        "model_uri": info.model_uri,
        "model_id": info.model_id,
        **dict(metadata),
        **dict(metrics),
    }


def log_trial(model_config: Mapping[str, Any], metrics: Mapping[str, float], optimized_metric: str) -> float:
    """Log one sweep trial's model params and metrics on the active run; return its objective."""
    import mlflow

    mlflow.log_params({k: str(v)[:250] for k, v in flatten(model_config).items()})
    mlflow.log_metrics(dict(metrics))
    return float(metrics[optimized_metric])


def record_evaluation(
    run_info_path: str | Path, metrics: Mapping[str, float], metrics_path: str | Path, files: Iterable[str | Path]
) -> None:
    """Write the evaluation metrics (DVC metrics file) and log them and ``files`` (plots) to the
    training run named in ``run_info_path``."""
    import mlflow

    from mlcore.foundation.io import read_json, write_json

    write_json(dict(metrics), metrics_path)
    run_id = read_json(run_info_path)["run_id"]
    with runs.owned_run(run_id=run_id):
        mlflow.log_metrics(dict(metrics))
        for path in files:
            mlflow.log_artifact(str(path), artifact_path="plots")
