"""The Grafana dashboard (deploy/grafana/dashboard.json): well formed, every panel's query valid
PromQL (checked by `promtool check rules`, each query as a recording rule) and selecting this
service's scrape job, and the panels cover traffic, errors, latency, predictions, drift and online
quality. The suite's alert-loop test runs every query against a live Prometheus."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
JOB = "housing-price"


def queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel."""
    panels: list[dict[str, Any]] = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [(panel["title"], target["expr"]) for panel in panels for target in panel["targets"]]


def test_the_dashboard_is_well_formed_and_every_query_selects_this_service() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert board["uid"] == JOB and board["panels"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
    for title, expr in queries():
        assert f'job="{JOB}"' in expr, f"{title}: {expr}"
    used = " ".join(expr for _, expr in queries())
    for metric in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "monitor_drift_statistic",
        "online_metric",
        "model_version_info",
    ):
        assert metric in used, f"no panel shows {metric}"
    assert "predictions_total" in used or "prediction_value" in used


def test_every_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, (_, expr) in enumerate(queries())]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
