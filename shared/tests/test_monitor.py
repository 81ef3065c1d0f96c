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
