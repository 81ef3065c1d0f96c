"""The model API: mlcore's app factory with this project's served model (``predictor.SERVED``).

Template-owned: edit templates/ml-project, then `make sync`.

`make serve` runs ``python -m {{ cookiecutter.package_name }}.api [overrides]``; uvicorn can also
serve the factory directly: ``uvicorn {{ cookiecutter.package_name }}.api:app_from_params --factory``.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from mlcore.foundation.config import hydra_entry, load_params
from mlcore.lifecycle import tracking
from mlcore.serving.app import ServingSpec, create_app, run, run_workers, worker_config_path
from omegaconf import DictConfig

from . import CONFIG_DIR, PROJECT_ROOT
from .predictor import SERVED


def build_app(cfg: DictConfig, root: Path = PROJECT_ROOT) -> FastAPI:
    serve = cfg.serve
    return create_app(
        ServingSpec.from_config(
            serve,
            root,
            # The champion is fetched by a child process: this one never imports MLflow. Without
            # prefer_registry the server needs no tracking store at all.
            tracking_uri=tracking.tracking_uri(root) if serve.prefer_registry else None,
            cache_dir=root / serve.cache_dir / str(os.getpid()),
            drift_report=root / cfg.monitor.report_json,
            monitor_metrics=root / cfg.monitor.metrics_file,  # the monitor's runs, appended to /metrics
            rollout=cfg.rollout,  # champion/challenger modes, guard rails, the online test
            feedback_kind=cfg.rollout.feedback,  # what POST /feedback takes (configs/task/)
            # Schemas, loader, extra GET endpoints and, where the project has them, uploads and a page at /.
            served=SERVED,
            model_name=cfg.project.model_name,
            export_dir=root / cfg.paths.export,
            title="{{ cookiecutter.project_name | escaped }}",
        )
    )


def app_from_params() -> FastAPI:
    """Factory for ``uvicorn --factory``: params.yaml, or the resolved config of a multi-worker `make serve`."""
    return build_app(load_params(worker_config_path(PROJECT_ROOT / "params.yaml")))


def serve(cfg: DictConfig) -> None:
    serve = cfg.serve
    if serve.workers > 1:
        run_workers(f"{__name__}:app_from_params", cfg, serve.host, serve.port, serve.workers, serve.log_level)
        return
    run(build_app(cfg), host=serve.host, port=serve.port, log_level=serve.log_level)


main = hydra_entry(CONFIG_DIR)(serve)

if __name__ == "__main__":
    main()
