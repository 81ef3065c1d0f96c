"""What a project serves and how: the model, its request and answer schemas, limits, the prediction
log, the rollout; read from the ``serve`` config group by ``ServingSpec.from_config``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mlcore.foundation.served import ServedModel
from mlcore.serving.predictor import Predictor
from mlcore.serving.protocol import ClientLimits
from mlcore.serving.rollout import RolloutSettings

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServingSpec:
    model_name: str
    item_schema: type[BaseModel]
    answer_schema: type[BaseModel]  # one answer of the predictor (documents /predict's response)
    load: Callable[[Path], Predictor]
    export_dir: Path
    cache_dir: Path  # private to this process: removed at shutdown
    prediction_log: Path | None = None
    drift_report: Path | None = None
    monitor_metrics: Path | None = None  # the monitor's textfile (reports/monitor.prom), appended to /metrics
    max_batch: int = 256
    max_body_bytes: int = 1_000_000
    prefer_registry: bool = True
    tracking_uri: str | None = None  # the registry's store (None: MLflow's own default / environment)
    # Start-up waits at most registry_timeout_s for the registry, then serves the local export and
    # asks the registry again every registry_retry_s until it answers.
    registry_timeout_s: float = 20.0
    registry_retry_s: float = 30.0
    # Slow clients get 408 past the header/body deadlines; 503 beyond limit_connections open connections.
    client_limits: ClientLimits = field(default_factory=ClientLimits)
    admin_token: str | None = None
    # Where the admin token lives when none is set: read, or generated there (mode 0600), so the admin
    # routes need it on loopback too; `make serve` sets it (serve.admin_token_file). None: the old
    # rule, a token only off loopback (in-process tests).
    admin_token_file: Path | None = None
    # Browser origins (scheme://host:port) allowed to send state-changing requests besides the
    # server's own (``mlcore.serving.origin``); requests without an Origin (scripts, curl) always pass.
    allowed_origins: tuple[str, ...] = ()
    host: str = "127.0.0.1"  # off loopback, /admin/reload always needs a token (generated if none is set)
    batch_max_items: int = 64  # micro-batching (predictors with execution = "batch")
    batch_wait_ms: float = 5.0
    title: str = "model API"
    # Extra read-only endpoints: path -> function of the loaded predictor (e.g. "/segments").
    extra_get: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    # Uploads: /predict also takes multipart/form-data files (field `file`, or `files` for a batch);
    # each file becomes an item whose `upload_field` holds the file's bytes, base64-encoded.
    upload_field: str | None = None
    page: str | None = None  # HTML served at GET / (e.g. an upload page; same origin, no CDN)
    explains: bool = False  # POST /explain: the predictor explains its answers (ServedModel.explains)
    # A predictor that logs signals (``log_inputs``) logs the request items as sent only when asked
    # (raw text or images may be personal data).
    log_raw_inputs: bool = False
    log_durable: bool = False  # answer only once the prediction log row is committed
    # Champion and challenger (``mlcore.serving.rollout``); the challenger is ``@challenger`` from
    # the registry, or ``challenger_export`` when the server does not use the registry.
    rollout: RolloutSettings = field(default_factory=RolloutSettings)
    challenger_export: Path | None = None
    feedback_kind: str | None = None  # label | value | response (``mlcore.serving.feedback``); None: no /feedback

    @classmethod
    def from_config(
        cls,
        serve: Mapping[str, Any],
        root: Path,
        *,
        cache_dir: Path,
        drift_report: Path | None = None,
        rollout: Mapping[str, Any] | None = None,
        served: ServedModel | None = None,
        **project: Any,
    ) -> ServingSpec:
        """The spec from the ``serve`` config group (paths relative to ``root``), the project's
        served model (schemas, loader, endpoints, upload field, page) and its other parts
        (``model_name``, ``export_dir``, ...). ``SERVE_ADMIN_TOKEN`` in the environment wins over
        ``serve.admin_token``."""
        if served is not None:
            project = {
                "item_schema": served.item,
                "answer_schema": served.answer,
                "load": served.load,
                "extra_get": served.endpoints,
                "upload_field": served.upload_field,
                "explains": served.explains,
                "page": served.page() if served.page is not None else None,
                **project,
            }
        log_path = serve.get("prediction_log")
        return cls(
            cache_dir=cache_dir,
            drift_report=drift_report,
            prediction_log=Path(root) / log_path if log_path else None,
            max_batch=int(serve.get("max_batch", 256)),
            max_body_bytes=int(serve.get("max_body_bytes", 1_000_000)),
            prefer_registry=bool(serve.get("prefer_registry", True)),
            registry_timeout_s=float(serve.get("registry_timeout_s", 20.0)),
            registry_retry_s=float(serve.get("registry_retry_s", 30.0)),
            client_limits=ClientLimits.from_config(serve),
            admin_token=os.environ.get("SERVE_ADMIN_TOKEN") or serve.get("admin_token"),
            allowed_origins=tuple(str(origin) for origin in serve.get("allowed_origins") or ()),
            admin_token_file=Path(root) / serve.admin_token_file if serve.get("admin_token_file") else None,
            host=str(serve.get("host", "127.0.0.1")),
            batch_max_items=int(serve.get("batch_max_items", 64)),
            batch_wait_ms=float(serve.get("batch_wait_ms", 5.0)),
            log_raw_inputs=bool(serve.get("log_raw_inputs", False)),
            log_durable=bool(serve.get("log_durable", False)),
            rollout=RolloutSettings.from_config(rollout),
            **project,
        )
