"""``make watch`` (``mlcore.monitoring.watch``) with a stand-in monitor command: a real process
that writes the reports a verdict needs and exits with the monitor's exit code."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlcore.foundation.waiting import wait_until
from mlcore.monitoring.watch import history, main, run_once

FAKE = """
import json, sys, pathlib
reports, verdict = pathlib.Path(sys.argv[1]), sys.argv[2]
if verdict in ("drift", "no_drift"):
    report = {"status": "judged", "drift_detected": verdict == "drift", "n_current": 321,
              "drifted_features": ["length"] if verdict == "drift" else [], "features": {}}
    (reports / "drift.json").write_text(json.dumps(report))
    (reports / "drift.html").write_text("<html>report</html>")
sys.exit({"no_drift": 0, "drift": 1, "not_judged": 2, "crash": 3}[verdict])
"""


def monitor(tmp_path: Path, verdict: str) -> list[str]:
    script = tmp_path / "fake_monitor.py"
    script.write_text(FAKE, encoding="utf-8")
    return [sys.executable, str(script), str(tmp_path / "reports"), verdict]


def test_each_run_is_kept_and_listed_newest_first_with_its_verdict(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    start = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    for i, verdict in enumerate(("no_drift", "drift", "not_judged", "crash")):
        run_once(monitor(tmp_path, verdict), reports, keep=10, now=start + timedelta(hours=i))
    runs = history(reports / "history")
    assert [r.verdict for r in runs] == ["error", "not_judged", "drift", "no_drift"]
    assert [r.at for r in runs][-1] == "20261205T100000Z"
    drift = runs[2]
    assert drift.rows == 321 and drift.drifted == ("length",) and drift.exit_code == 1
    assert (reports / "history" / drift.at / "drift.html").read_text() == "<html>report</html>"
    # not judged: the older run's report is not passed off as this run's
    assert runs[1].rows is None and not (reports / "history" / runs[1].at / "drift.json").exists()
    page = (reports / "history" / "index.html").read_text(encoding="utf-8")
    table = page[page.index("<table>") :]
    assert table.index("20261205T130000Z") < table.index("20261205T100000Z")  # newest first
    strip = page[: page.index("<table>")]
    assert strip.index("20261205T100000Z") < strip.index("20261205T130000Z")  # the trend: oldest to newest
    assert "1 no drift, 1 drift, 1 not judged, 1 error" in page and f'href="{drift.at}/drift.html"' in page


def test_only_the_newest_runs_are_kept(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    start = datetime(2026, 12, 5, tzinfo=UTC)
    for i in range(5):
        run_once(monitor(tmp_path, "no_drift"), reports, keep=2, now=start + timedelta(minutes=i))
    assert [r.at for r in history(reports / "history")] == ["20261205T000400Z", "20261205T000300Z"]
    assert json.loads((reports / "history" / "20261205T000400Z" / "run.json").read_text())["verdict"] == "no_drift"


def test_the_command_line_refuses_what_it_cannot_run(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["--every", "5"]) == 2 and "after --" in capsys.readouterr().err
    assert main(["--every", "0", "--", "true"]) == 2
    reports = tmp_path / "reports"
    reports.mkdir()
    assert main(["--once", "--reports", str(reports), "--", *monitor(tmp_path, "drift")]) == 0
    assert [r.verdict for r in history(reports / "history")] == ["drift"]


def test_the_loop_runs_on_schedule_and_stops_on_sigterm_between_runs(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    cmd = [sys.executable, "-m", "mlcore.monitoring.watch", "--every", "0.5", "--reports", str(reports)]
    proc = subprocess.Popen([*cmd, "--", *monitor(tmp_path, "no_drift")])  # noqa: S603
    try:
        wait_until(
            lambda: len(history(reports / "history")) >= 2 if (reports / "history").exists() else False,
            "two scheduled runs",
            timeout=60,
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert all(r.verdict == "no_drift" for r in history(reports / "history"))
