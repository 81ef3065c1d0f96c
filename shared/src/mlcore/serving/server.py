"""Running a serving app: one process (``run``) or several workers of an app factory
(``run_workers``), each finding the command's resolved config through ``CONFIG_ENV``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mlcore.serving.protocol import ClientLimits
from mlcore.serving.spec import ServingSpec

CONFIG_ENV = "MLCORE_SERVE_CONFIG"  # the resolved config every worker of a multi-worker server builds from


def worker_config_path(default: str | Path) -> Path:
    """The config a worker builds its app from: the serving command's resolved config, else ``default``."""
    return Path(os.environ.get(CONFIG_ENV) or default)


def run_workers(factory: str, config: Any, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Serve the app factory ``factory`` ("module:function") in ``workers`` processes.

    Each worker process imports the factory afresh; it finds this command's resolved ``config``
    (overrides included) through ``CONFIG_ENV``, so every worker serves with the same settings as
    a single-process server would.
    """
    import uvicorn
    from omegaconf import OmegaConf

    from mlcore.foundation.logs import configure_json_logging

    configure_json_logging(log_level)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="serve-config-", delete=False) as fh:
        fh.write(OmegaConf.to_yaml(config, resolve=True))
    os.environ[CONFIG_ENV] = fh.name
    try:
        uvicorn.run(
            factory,
            factory=True,
            host=host,
            port=int(port),  # a value interpolated from the environment arrives as a string
            workers=int(workers),
            access_log=False,
            log_config=None,
            **ClientLimits.from_config(config.serve).uvicorn_settings(),
        )
    finally:
        os.environ.pop(CONFIG_ENV, None)
        Path(fh.name).unlink(missing_ok=True)


def run(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "info") -> None:
    """Serve ``app`` with uvicorn (uvloop, httptools with deadlines for slow clients, no access log)."""
    import uvicorn

    from mlcore.foundation.logs import configure_json_logging

    configure_json_logging(log_level)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    spec: ServingSpec = app.state.serving.holder.spec
    uvicorn.run(
        app,
        host=host,
        port=int(port),
        workers=workers,
        access_log=False,
        log_config=None,
        log_level=log_level,
        **spec.client_limits.uvicorn_settings(),
    )
