"""The monitor's results as Prometheus metrics, in the text format of the node exporter's textfile
collector (``reports/monitor.prom``, replaced atomically after every run).

A file rather than a push: the monitor is a short job beside the service, and the file is read
where it lies, by the node exporter's textfile collector on a machine or by the service itself,
whose ``/metrics`` appends it (the service and the job share ``reports/``). A Pushgateway would be
one more server to run and, for a job that stops, keeps its last push forever, which is what
``monitor_last_run_timestamp_seconds`` tells anyway.

Every run writes, whatever its outcome: when it ran, whether it finished, its verdict
(``no_drift``, ``drift``, ``not_judged`` or ``error``: "not judged" is never "no drift"), the rows it
judged, each feature's statistic and when it last finished (kept across failed runs).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from prometheus_client.parser import text_string_to_metric_families

VERDICTS = ("no_drift", "drift", "not_judged", "error")
STATS = ("psi", "ks", "chi2_p_value", "p_value")  # the statistics a drift report gives per feature
LAST_SUCCESS = "monitor_last_success_timestamp_seconds"


def verdict_of(report: dict[str, Any] | None, failed: bool = False) -> str:
    if failed:
        return "error"
    if report is None or report.get("status") == "not_judged":
        return "not_judged"
    return "drift" if report.get("drift_detected") else "no_drift"


def previous_success(path: Path) -> float | None:
    """When the monitor last finished, from the file an earlier run wrote (None: never, or unreadable)."""
    try:
        for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
            if family.name == LAST_SUCCESS and family.samples:
                return float(family.samples[0].value)
    except (OSError, ValueError):
        return None
    return None


def write(path: str | Path, verdict: str, report: dict[str, Any] | None = None, now: float | None = None) -> None:
    """The run's metrics into ``path`` (written to a temporary file, then renamed over it)."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r}: one of {', '.join(VERDICTS)}")
    path, now = Path(path), time.time() if now is None else now
    last_success = previous_success(path) if verdict == "error" else now
    registry = CollectorRegistry()
    Gauge("monitor_last_run_timestamp_seconds", "When the monitor last ran", registry=registry).set(now)
    if last_success is not None:
        Gauge(LAST_SUCCESS, "When the monitor last finished (judged or not)", registry=registry).set(last_success)
    Gauge("monitor_last_run_ok", "1: the last run finished; 0: it failed", registry=registry).set(verdict != "error")
    verdicts = Gauge("monitor_verdict", "1 for the last run's verdict", ["verdict"], registry=registry)
    for name in VERDICTS:
        verdicts.labels(name).set(name == verdict)
    if report is not None:
        Gauge("monitor_rows", "Rows of traffic the last run judged", registry=registry).set(report.get("n_current", 0))
        drifted = Gauge("monitor_drifted_features", "Features over their threshold", registry=registry)
        drifted.set(len(report.get("drifted_features", [])))
        stats = Gauge("monitor_drift_statistic", "Per-feature drift statistic", ["feature", "stat"], registry=registry)
        for feature, figures in report.get("features", {}).items():
            for stat in STATS:
                if figures.get(stat) is not None:
                    stats.labels(feature, stat).set(float(figures[stat]))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def read(path: Path | None) -> bytes:
    """The file's exposition, checked (b"" when missing or not valid exposition text)."""
    if path is None or not path.exists():
        return b""
    try:
        text = path.read_text(encoding="utf-8")
        list(text_string_to_metric_families(text))
    except (OSError, ValueError):
        return b""
    return text.encode()
