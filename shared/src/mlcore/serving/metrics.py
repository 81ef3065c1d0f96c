"""The server's Prometheus metrics: the model's (version, items, fast path, micro-batches), the
prediction log's, the drift figures of the latest monitor run, and per-endpoint request counts and
latencies (``RequestMetrics``, an ASGI middleware)."""

from __future__ import annotations

import json
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mlcore.monitoring.metrics_file import STATS
from mlcore.serving.predictor import MicroBatcher
from mlcore.serving.predlog import PredictionLog

DRIFT_STATS = STATS


@dataclass
class Followed:
    """A Prometheus counter fed from a count kept elsewhere (the prediction log's, a micro-batcher's)
    that may start again from 0 when its owner is replaced (a reload brings a new batcher): the
    counter only ever grows, for the life of the process."""

    counter: Counter
    owner: weakref.ref[Any] | None = None  # the object whose count was seen last
    seen: int = 0

    def to(self, owner: Any, count: int) -> None:
        if self.owner is None or self.owner() is not owner:  # a new owner counts from 0
            self.owner, self.seen = weakref.ref(owner), 0
        self.counter.inc(count - self.seen)
        self.seen = count


@dataclass
class ServingMetrics:
    """The model's and the prediction log's metrics, in this app's own registry. Every ``_total``
    is a counter for the life of the process: reloading a model never sets one back."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    drift_mtime: float = 0.0  # the drift report last read

    def __post_init__(self) -> None:
        metrics = self.registry
        self.items_total = Counter("predicted_items_total", "Items predicted", registry=metrics)
        self.model_info = Gauge(
            "model_version_info", "Served model version", ["model_name", "version"], registry=metrics
        )
        self.drift_gauge = Gauge(
            "drift_score", "Latest drift statistic per feature (from `monitor`)", ["feature", "stat"], registry=metrics
        )
        self.drift_flag = Gauge("drift_detected", "1 when the latest monitor run crossed a threshold", registry=metrics)
        self.log_dropped = Followed(
            Counter("prediction_log_dropped", "Prediction-log rows dropped under overload", registry=metrics)
        )
        self.log_written = Followed(
            Counter("prediction_log_written", "Prediction-log rows committed", registry=metrics)
        )
        self.log_queued = Gauge(
            "prediction_log_queue_rows", "Rows answered, not yet committed to the prediction log", registry=metrics
        )
        self.log_errors = Followed(
            Counter("prediction_log_write_errors", "Failed (retried) prediction-log writes", registry=metrics)
        )
        self.batch_calls = Followed(
            Counter(
                "predict_batches", "Combined predict calls of the micro-batcher (batch predictors)", registry=metrics
            )
        )
        self.batch_items = Gauge(
            "predict_batch_items_mean", "Mean items per combined call over the last 100 calls", registry=metrics
        )
        self.fast_gauge = Gauge(
            "fastpath_active",
            "1: the compiled fast path serves the model; 0: it failed to compile or its parity check (see logs)",
            ["kind"],
            registry=metrics,
        )

    def model_installed(self, model_name: str, previous: Any, loaded: Any) -> None:
        """``previous`` and ``loaded`` are ``mlcore.serving.holder.Loaded`` (the old one may be None)."""
        if previous is not None:
            self.model_info.remove(model_name, previous.version)
        self.model_info.labels(model_name, loaded.version).set(1)
        self.fast_gauge.clear()
        if loaded.fastpath is not None:
            self.fast_gauge.labels(loaded.fastpath.kind or "none").set(int(loaded.fastpath.active))

    def follow(self, predlog: PredictionLog | None, batcher: MicroBatcher | None) -> None:
        """Bring the counters and gauges up to the prediction log's and the micro-batcher's counts."""
        if predlog is not None:
            self.log_dropped.to(predlog, predlog.dropped)
            self.log_written.to(predlog, predlog.written)
            self.log_queued.set(predlog.queued)
            self.log_errors.to(predlog, predlog.write_errors)
        if batcher is not None:
            self.batch_calls.to(batcher, batcher.batches)
            if batcher.sizes:  # a new model's batcher with no call yet keeps the last mean
                self.batch_items.set(sum(batcher.sizes) / len(batcher.sizes))

    def read_drift(self, path: Path | None) -> None:
        """The figures of the drift report at ``path``, when it changed since it was last read."""
        if path is None or not path.exists() or path.stat().st_mtime == self.drift_mtime:
            return
        self.drift_mtime = path.stat().st_mtime
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        self.drift_gauge.clear()
        for name, feature in report.get("features", {}).items():
            for stat in DRIFT_STATS:
                if feature.get(stat) is not None:
                    self.drift_gauge.labels(name, stat).set(float(feature[stat]))
        self.drift_flag.set(1.0 if report.get("drift_detected") else 0.0)


class RequestMetrics:
    """Request counts and latency histograms per endpoint (its route template), method and status
    code: the metrics prometheus-fastapi-instrumentator records, under the same names and labels.

    A plain ASGI middleware that reads the route the router already matched (``scope["route"]``)
    costs a few microseconds a request; the instrumentator matched every route again and cost ~30 µs
    (a quarter of a compiled model's whole request, measured in-process).
    """

    BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)

    def __init__(self, app: Any, registry: CollectorRegistry) -> None:
        self.app = app
        labels = ("handler", "method", "status")
        self.count = Counter(
            "http_requests_total", "Requests by endpoint, method and status", labels, registry=registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Request latency by endpoint, method and status",
            labels,
            buckets=self.BUCKETS,
            registry=registry,
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            handler = getattr(scope.get("route"), "path", None) or "none"  # "none": no route matched
            labels = (handler, scope["method"], str(status))
            self.count.labels(*labels).inc()
            self.latency.labels(*labels).observe(time.perf_counter() - start)
