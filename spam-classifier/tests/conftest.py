"""Shared fixtures: a throw-away copy of the project with its own MLflow store.

``trained`` runs the real pipeline (every stage of ``dvc.yaml`` in order: ingest -> validate -> split
-> train -> evaluate -> promote, with a task's own stages between) once per session on the shipped
sample data (``debug=default``), in a temporary folder, so tests never touch the project's own
outputs or tracking store. Tests run offline (``offline``): data and pretrained weights come from
the cache that ``make data`` fills.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlcore.foundation.config import compose, write_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def offline() -> Iterator[None]:
    """No connection beyond loopback (a download fails instead of quietly fetching); model hubs offline."""
    from mlcore.foundation.offline import network_blocked

    with network_blocked():
        yield


@pytest.fixture(scope="session")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("project")
    for name in ("configs", "data/sample", "dvc.yaml", "pyproject.toml"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name)
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, root / name)
    saved = {k: os.environ.get(k) for k in ("ML_STORE_ROOT", "MLFLOW_TRACKING_URI")}
    os.environ["ML_STORE_ROOT"] = str(root)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def cfg(project_copy: Path) -> Any:
    config = compose(project_copy / "configs", ["debug=default"])
    write_params(config, project_copy / "params.yaml")
    return config


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The configured dataset (configs/data/default.yaml), fetched into a temporary folder and parsed."""
    from mlcore.data.acquire import Source, fetch

    from spam_classifier.data import parse_raw

    cfg = compose(ROOT / "configs")
    raw = tmp_path_factory.mktemp("raw") / "dataset"
    fetch(Source.from_config(cfg.data.source), raw, project=ROOT)
    return cfg, parse_raw(raw, cfg.data)


def pipeline_modules(root: Path) -> list[str]:
    """The stage modules ``dvc.yaml`` runs (``python -m <package>.pipeline.<module>``), in order."""
    import yaml

    stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return [stage["cmd"].split()[-1] for stage in stages.values()]


@pytest.fixture(scope="session")
def trained(project_copy: Path, cfg: Any) -> dict[str, Any]:
    """Run every stage of dvc.yaml once on the sample data; return what they produced."""
    import importlib

    results = {}
    for module in pipeline_modules(ROOT):
        results[module.rsplit(".", 1)[1]] = importlib.import_module(module).run(cfg, project_copy)
        if module.endswith(".validate"):
            assert results["validate"].ok, results["validate"].errors
    return {
        "root": project_copy,
        "cfg": cfg,
        "run_info": results["train"],
        "metrics": results["evaluate"],
        "decision": results["promote"],
    }


@pytest.fixture(scope="session")
def server(trained: dict[str, Any]) -> Iterator[str]:
    """The project's API (uvicorn, 127.0.0.1) serving the model the pipeline promoted; stopped by PID."""
    import sys

    from mlcore.serving.smoke import free_port, running_server

    root: Path = trained["root"]
    port = free_port()
    env = {"ML_PROJECT_ROOT": str(root), "ML_STORE_ROOT": str(root), "PYTHONPATH": str(ROOT / "src")}
    api = "spam_classifier.api"
    cmd = [sys.executable, "-m", api, f"serve.port={port}", "serve.host=127.0.0.1"]
    with running_server(cmd, port, cwd=root, env=env) as (base, _):
        yield base
