"""The model API: mlcore's app factory with this project's schema and predictor.

`make serve` runs ``python -m customer_segmentation.api [overrides]``; uvicorn can also
serve the factory directly: ``uvicorn customer_segmentation.api:app_from_params --factory``.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from mlcore import tracking
from mlcore.config import hydra_entry, load_params
from mlcore.serving import ServingSpec, create_app, run
from omegaconf import DictConfig

from . import CONFIG_DIR, PROJECT_ROOT
from .schemas import Item, load_predictor


def build_app(cfg: DictConfig, root: Path = PROJECT_ROOT) -> FastAPI:
    tracking.configure(root, cfg.project.experiment)
    serve = cfg.serve
    return create_app(
        ServingSpec(
            model_name=cfg.project.model_name,
            item_schema=Item,
            load=load_predictor,
            export_dir=root / cfg.paths.export,
            cache_dir=root / serve.cache_dir / str(os.getpid()),
            prediction_log=root / serve.prediction_log if serve.prediction_log else None,
            drift_report=root / cfg.monitor.report_json,
            max_batch=serve.max_batch,
            max_body_bytes=serve.max_body_bytes,
            prefer_registry=serve.prefer_registry,
            admin_token=os.environ.get("SERVE_ADMIN_TOKEN") or serve.admin_token,
            title="Customer Segmentation",
            extra_get={"/segments": lambda predictor: predictor.describe()},
        )
    )


def app_from_params() -> FastAPI:
    """Factory for ``uvicorn --factory`` (reads params.yaml)."""
    return build_app(load_params(PROJECT_ROOT / "params.yaml"))


def serve(cfg: DictConfig) -> None:
    if cfg.serve.workers > 1:
        import uvicorn
        from mlcore.logs import configure_json_logging

        configure_json_logging(cfg.serve.log_level)
        uvicorn.run(
            f"{__name__}:app_from_params",
            factory=True,
            host=cfg.serve.host,
            port=cfg.serve.port,
            workers=cfg.serve.workers,
            access_log=False,
            log_config=None,
        )
        return
    run(build_app(cfg), host=cfg.serve.host, port=cfg.serve.port, log_level=cfg.serve.log_level)


main = hydra_entry(CONFIG_DIR)(serve)

if __name__ == "__main__":
    main()
