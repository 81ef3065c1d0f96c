"""The monitor's schedule for one host (deploy/systemd/): the service and timer pass
`systemd-analyze verify`, the service runs the Makefile's `watch` target once, and the timer's
period fits the alert rules' MonitorStale threshold."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
NAME = "{{ cookiecutter.project_slug }}-monitor"


def unit(suffix: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign] - systemd keys are case-sensitive
    parser.read(UNITS / f"{NAME}.{suffix}", encoding="utf-8")
    return parser


def test_the_service_runs_the_watch_target_once_and_the_timer_runs_it_hourly() -> None:
    service, timer = unit("service"), unit("timer")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].endswith("make watch ONCE=1")
    assert re.search(r"^watch:", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert timer["Timer"]["OnCalendar"] == "hourly" and timer["Install"]["WantedBy"] == "timers.target"
    stale = re.search(
        r"monitor_last_success_timestamp_seconds.*> (\d+) \* 3600",
        (ROOT / "deploy/alerts.yaml").read_text(encoding="utf-8"),
    )
    assert stale and int(stale.group(1)) >= 2, "MonitorStale must allow more than one missed hourly run"


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    verify = shutil.which("systemd-analyze")
    if verify is None:
        pytest.skip("no systemd-analyze on this machine")
    for suffix in ("service", "timer"):
        shutil.copy(UNITS / f"{NAME}.{suffix}", tmp_path / f"{NAME}.{suffix}")
    done = subprocess.run(
        [verify, "verify", "--man=no", str(tmp_path / f"{NAME}.timer"), str(tmp_path / f"{NAME}.service")],
        capture_output=True,
        text=True,
        check=False,
    )
    # verify also reports on units of the machine it runs on; only lines about ours matter
    ours = [line for line in (done.stdout + done.stderr).splitlines() if NAME in line]
    assert not ours, "\n".join(ours)
