"""``make watch``: the monitor on a schedule, each run kept, and a page of the history.

``python -m mlcore.monitoring.watch [--every SECONDS] [--once] [--keep N] --reports DIR -- CMD ...``

Runs ``CMD`` (the project's monitor) now and then every ``--every`` seconds until stopped (Ctrl-C
or SIGTERM end it between runs, never in the middle of one); ``--once`` runs it one time, for a
scheduler of its own (cron, the systemd timer, a Kubernetes CronJob). After each run the reports
it wrote (``drift.json``, ``drift.html``, ``monitor.prom``) are copied into
``DIR/history/<UTC time>/`` and ``DIR/history/index.html`` lists every kept run, newest first,
with its verdict, rows and drifted features, and the verdicts as a trend strip. A run whose
command fails is listed as an error with its exit code; the next run goes on. Only the newest
``--keep`` runs are kept. Re-running changes nothing but adding the new run: the history is
keyed by run time and the page is rebuilt from it every time.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlcore.foundation.io import write_json, write_text
from mlcore.foundation.progress import say
from mlcore.monitoring.report import EXIT_DRIFT, EXIT_ERROR, EXIT_NO_DRIFT, EXIT_NOT_JUDGED

KEPT = ("drift.json", "drift.html", "monitor.prom")
VERDICT_OF_EXIT = {EXIT_NO_DRIFT: "no_drift", EXIT_DRIFT: "drift", EXIT_NOT_JUDGED: "not_judged", EXIT_ERROR: "error"}
COLOURS = {"no_drift": "#2e7d32", "drift": "#c62828", "not_judged": "#9e9e9e", "error": "#6a1b9a"}


@dataclass
class Run:
    at: str  # UTC, YYYYMMDDTHHMMSSZ: the history folder's name
    verdict: str
    exit_code: int
    rows: int | None = None
    drifted: tuple[str, ...] = ()
    seconds: float = 0.0


def run_once(cmd: list[str], reports: Path, keep: int, now: datetime | None = None) -> Run:
    """One monitor run: the command, its reports copied into the history, the page rebuilt."""
    now = now or datetime.now(UTC)
    report = reports / "drift.json"
    before = report.stat().st_mtime_ns if report.exists() else None
    start = time.monotonic()
    done = subprocess.run(cmd, check=False)  # noqa: S603 - the project's own monitor command
    verdict = VERDICT_OF_EXIT.get(done.returncode, "error")
    run = Run(now.strftime("%Y%m%dT%H%M%SZ"), verdict, done.returncode, seconds=round(time.monotonic() - start, 1))
    folder = reports / "history" / run.at
    folder.mkdir(parents=True, exist_ok=True)
    fresh = report.exists() and report.stat().st_mtime_ns != before  # written by this run
    if fresh and verdict in ("no_drift", "drift", "not_judged"):  # this run's reports, not an older run's
        for name in KEPT:
            if (reports / name).exists():
                shutil.copy2(reports / name, folder / name)
        figures = json.loads(report.read_text(encoding="utf-8"))
        run.rows = figures.get("n_current")
        run.drifted = tuple(figures.get("drifted_features", []))
    elif (reports / "monitor.prom").exists():
        shutil.copy2(reports / "monitor.prom", folder / "monitor.prom")
    write_json(run.__dict__, folder / "run.json")
    prune(reports / "history", keep)
    write_text(reports / "history" / "index.html", index_page(history(reports / "history")))
    return run


def history(folder: Path) -> list[Run]:
    """Every kept run, newest first."""
    runs = []
    for file in sorted(folder.glob("*/run.json"), reverse=True):
        try:
            data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
            runs.append(Run(**{**data, "drifted": tuple(data.get("drifted", ()))}))
        except (ValueError, TypeError):
            continue  # a run being written or a stray folder
    return runs


def prune(folder: Path, keep: int) -> None:
    runs = sorted(p for p in folder.iterdir() if p.is_dir())
    for old in runs[: max(len(runs) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)


def index_page(runs: list[Run]) -> str:
    strip = "".join(
        f'<span title="{r.at}: {r.verdict}" style="display:inline-block;width:10px;height:24px;'
        f'margin-right:1px;background:{COLOURS[r.verdict]}"></span>'
        for r in reversed(runs)
    )
    rows = []
    for r in runs:
        link = f'<a href="{r.at}/drift.html">report</a>' if r.rows is not None else ""
        drifted = html.escape(", ".join(r.drifted)) or "&ndash;"
        rows.append(
            f'<tr><td>{r.at}</td><td style="color:{COLOURS[r.verdict]}">{r.verdict}</td>'
            f"<td>{'' if r.rows is None else r.rows}</td><td>{drifted}</td><td>{r.exit_code}</td><td>{link}</td></tr>"
        )
    counts = {v: sum(r.verdict == v for r in runs) for v in COLOURS}
    summary = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in counts.items() if n)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Monitor history</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:left}}</style></head>
<body><h1>Monitor history</h1>
<p>{len(runs)} runs kept: {summary or "none yet"}. Oldest to newest:</p>
<div>{strip}</div>
<table><tr><th>run (UTC)</th><th>verdict</th><th>rows</th><th>drifted features</th><th>exit</th><th></th></tr>
{"".join(rows)}
</table></body></html>
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--" not in args:
        print("watch: give the monitor command after --, e.g. `-- python -m my_project.monitor`", file=sys.stderr)
        return 2
    split = args.index("--")
    parser = argparse.ArgumentParser(prog="watch", description="The monitor on a schedule, with a history page.")
    parser.add_argument("--every", type=float, default=3600.0, help="seconds between runs (default: hourly)")
    parser.add_argument("--once", action="store_true", help="one run (for cron, a systemd timer, a CronJob)")
    parser.add_argument("--keep", type=int, default=500, help="runs kept in the history")
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    options = parser.parse_args(args[:split])
    cmd = args[split + 1 :]
    if not cmd or options.every <= 0 or options.keep < 1:
        print("watch: needs a command after --, --every > 0 and --keep >= 1", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while True:
        run = run_once(cmd, options.reports, options.keep)
        index = options.reports / "history" / "index.html"
        say("watch", f"{run.at}: {run.verdict} ({run.seconds:.0f} s); history: {index}")
        if options.once or stop.wait(options.every):
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
