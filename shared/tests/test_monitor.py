"""One drift verdict in both reports, 'not judged' for too little traffic, distinct exit codes."""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlcore.monitoring.drift import Thresholds, build_profile
from mlcore.monitoring.report import (
    EXIT_DRIFT,
    EXIT_ERROR,
    EXIT_NO_DRIFT,
    EXIT_NOT_JUDGED,
    CannotJudge,
    command,
    run,
)


class _Flags(HTMLParser):
    """Features the HTML report marks as drifted, and its overall status."""

    def __init__(self) -> None:
        super().__init__()
        self.drifted: set[str] = set()
        self.all: set[str] = set()
        self.status = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "data-feature" in found:
            self.all.add(str(found["data-feature"]))
            if found.get("data-drifted") == "yes":
                self.drifted.add(str(found["data-feature"]))
        if "data-status" in found:
            self.status = str(found["data-status"])


def html_flags(path: Path) -> _Flags:
    parser = _Flags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def profile() -> dict:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(0, 1, 4000),
            "y": rng.exponential(2, 4000),
            "z": rng.normal(5, 2, 4000),
            "colour": rng.choice(["red", "green", "blue"], 4000, p=[0.5, 0.3, 0.2]),
        }
    )
    return build_profile(frame, categorical=["colour"])


def window(n: int, shift: float = 0.0, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, n),
            "y": rng.exponential(2, n),
            "z": rng.normal(5 + shift, 2, n),
            "colour": rng.choice(["red", "green", "blue"], n, p=[0.2, 0.3, 0.5] if shift else [0.5, 0.3, 0.2]),
        }
    )


@pytest.mark.parametrize("shift", [0.0, 0.25, 0.6, 1.5])
def test_html_flags_exactly_the_json_drifted_features(profile: dict, tmp_path: Path, shift: float) -> None:
    report = run(profile, window(2000, shift), Thresholds(), tmp_path / "drift.json", tmp_path / "drift.html")
    on_disk = json.loads((tmp_path / "drift.json").read_text())
    flags = html_flags(tmp_path / "drift.html")
    assert flags.all == set(on_disk["features"]) == {"x", "y", "z", "colour"}
    assert flags.drifted == set(on_disk["drifted_features"]) == set(report["drifted_features"])
    assert flags.status == on_disk["status"] == ("drift" if report["drift_detected"] else "no_drift")
    for feature in on_disk["features"].values():
        assert html.escape(feature["rule"]) in (tmp_path / "drift.html").read_text()


def test_shift_is_drift_and_resample_is_not(profile: dict, tmp_path: Path) -> None:
    assert run(profile, window(2000), Thresholds(), tmp_path / "a.json")["status"] == "no_drift"
    shifted = run(profile, window(2000, 1.5), Thresholds(), tmp_path / "b.json")
    assert shifted["status"] == "drift"
    assert {"x", "z", "colour"} <= set(shifted["drifted_features"])


def test_too_little_traffic_is_not_judged_and_replaces_both_reports(profile: dict, tmp_path: Path) -> None:
    json_path, html_path = tmp_path / "drift.json", tmp_path / "drift.html"
    run(profile, window(2000, 1.5), Thresholds(), json_path, html_path)
    assert html_flags(html_path).status == "drift"
    report = run(profile, window(1, 1.5), Thresholds(), json_path, html_path, min_rows=100)
    assert report["status"] == "not_judged"
    assert report["drift_detected"] is False and report["drifted_features"] == []
    assert json.loads(json_path.read_text())["status"] == "not_judged"
    flags = html_flags(html_path)
    assert flags.status == "not_judged" and not flags.drifted  # the older drift page is gone
    assert not list(tmp_path.glob(".*.tmp"))


def test_exit_codes_tell_drift_not_judged_and_errors_apart(profile: dict, tmp_path: Path) -> None:
    def judged(shift: float) -> int:
        return command(lambda: run(profile, window(2000, shift), Thresholds(), tmp_path / "d.json"))

    def cannot() -> dict:
        raise CannotJudge("no traffic")

    def crash() -> dict:
        raise KeyError("feature 'x' is missing")

    assert judged(0.0) == EXIT_NO_DRIFT == 0
    assert judged(1.5) == EXIT_DRIFT == 1
    assert command(lambda: run(profile, window(3), Thresholds(), tmp_path / "d.json", min_rows=100)) == 2
    assert command(cannot) == EXIT_NOT_JUDGED == 2
    assert command(crash) == EXIT_ERROR == 3


def test_every_monitor_run_becomes_metrics_and_not_judged_is_never_no_drift(tmp_path: Path) -> None:
    from mlcore.monitoring import metrics_file
    from mlcore.monitoring.report import CannotJudge, command
    from prometheus_client.parser import text_string_to_metric_families

    path = tmp_path / "reports" / "monitor.prom"

    def samples() -> dict[str, float]:
        families = text_string_to_metric_families(path.read_text(encoding="utf-8"))
        out = {}
        for family in families:
            for s in family.samples:
                key = s.name + "".join(f"|{k}={v}" for k, v in sorted(s.labels.items()))
                out[key] = s.value
        return out

    report = {"status": "judged", "drift_detected": True, "n_current": 500, "drifted_features": ["length"]}
    report["features"] = {
        "length": {"kind": "numeric", "psi": 0.41, "ks": 0.2, "drifted": True},
        "oov": {"kind": "categorical", "psi": 0.01, "chi2_p_value": 0.5, "drifted": False},
    }
    assert command(lambda: report, metrics_path=path) == 1
    first = samples()
    assert first["monitor_verdict|verdict=drift"] == 1 and first["monitor_verdict|verdict=no_drift"] == 0
    assert first["monitor_drift_statistic|feature=length|stat=psi"] == 0.41 and first["monitor_rows"] == 500
    assert first["monitor_last_run_ok"] == 1 and first["monitor_drifted_features"] == 1

    def cannot() -> dict[str, object]:
        raise CannotJudge("the prediction log is empty")

    assert command(cannot, metrics_path=path) == 2
    second = samples()
    assert second["monitor_verdict|verdict=not_judged"] == 1 and second["monitor_verdict|verdict=no_drift"] == 0
    assert "monitor_rows" not in second and second["monitor_last_run_ok"] == 1

    def crash() -> dict[str, object]:
        raise RuntimeError("disk full")

    assert command(crash, metrics_path=path) == 3
    third = samples()
    assert third["monitor_verdict|verdict=error"] == 1 and third["monitor_last_run_ok"] == 0
    # a failed run keeps when the monitor last finished, so staleness is measured from there
    assert third["monitor_last_success_timestamp_seconds"] == second["monitor_last_success_timestamp_seconds"]
    assert third["monitor_last_run_timestamp_seconds"] >= second["monitor_last_run_timestamp_seconds"]
    with pytest.raises(ValueError, match="one of"):
        metrics_file.write(path, "fine")


def test_the_api_appends_the_monitor_metrics_and_ignores_a_broken_file(tmp_path: Path) -> None:
    from demo_api import export, make_spec
    from fastapi.testclient import TestClient
    from mlcore.monitoring import metrics_file
    from mlcore.serving.app import create_app

    export(tmp_path / "export", "1", 2.0)
    prom = tmp_path / "monitor.prom"
    metrics_file.write(prom, "not_judged")
    with TestClient(create_app(make_spec(tmp_path, monitor_metrics=prom))) as client:
        text = client.get("/metrics").text
        assert 'monitor_verdict{verdict="not_judged"} 1.0' in text and "model_version_info" in text
        prom.write_text("monitor_verdict{verdict= 1 garbage\n", encoding="utf-8")
        broken = client.get("/metrics")
        assert (
            broken.status_code == 200 and "monitor_verdict" not in broken.text and "model_version_info" in broken.text
        )
