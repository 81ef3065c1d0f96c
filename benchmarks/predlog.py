"""Prediction-log benchmark: the most rows a second the log writer commits, side by side in one
run with the writer it replaced (``executemany``, one statement per row), each alone and beside a
thread that keeps the GIL busy the way a loaded event loop does.

    python benchmarks/predlog.py [--seconds 1] [--rounds 5] [--batch 5000]
    python benchmarks/predlog.py --kill spam-classifier [--load-seconds 6] [--connections 32]

Each variant commits batches of ``--batch`` rows (one prediction each: a short text in, a label
and probability out) into a fresh WAL database for ``--seconds``, ``--rounds`` times, interleaved
with the other variant; the slowest round matters (whether the writer keeps up), and beside a busy
thread the row-per-statement writer swings between rounds (the convoy effect). Figures go to
benchmarks/results/predlog.json; compare them with the request rates of benchmarks/serve.py.

``--kill PROJECT``: the project's API (prediction log on, as `make serve` runs it) under wrk at
its peak rate; every 0.5 s the rows answered (``predicted_items_total`` on /metrics) are compared
with the rows committed (the lag, in rows and in seconds of traffic); then the server gets SIGKILL
and the rows committed are counted against the rows answered before it (the loss). Twice in one
run: the default log (batched off the request path) and ``serve.log_durable=true`` (an answer
waits for its row's commit: what it costs in requests/s, and that it loses nothing). Figures go
to benchmarks/results/predlog.<project>.kill.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mlcore.serving.predlog import INSERT_BATCH, Row, connect

ROOT = Path(__file__).resolve().parents[1]


def batch_statement(conn: sqlite3.Connection, rows: list[Row]) -> None:
    with conn:
        conn.execute(INSERT_BATCH, (json.dumps(rows),))


def executemany(conn: sqlite3.Connection, rows: list[Row]) -> None:
    with conn:
        conn.executemany("INSERT INTO predictions (ts, model_version, input, output) VALUES (?, ?, ?, ?)", rows)


@contextmanager
def busy_thread(on: bool) -> Iterator[None]:
    """A pure-Python loop holding the GIL whenever the writer lets go of it."""
    stop = threading.Event()

    def spin() -> None:
        n = 0
        while not stop.is_set():
            n += 1

    thread = threading.Thread(target=spin, daemon=True)
    if on:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if on:
            thread.join()


def rows_per_second(write: Callable[[sqlite3.Connection, list[Row]], None], batch: int, seconds: float) -> float:
    now = time.time()
    item, out = json.dumps({"text": "win a free prize now " * 3}), json.dumps({"label": "spam", "p": 0.93})
    rows = [(now, "7", item, out)] * batch
    with tempfile.TemporaryDirectory() as folder:
        conn = connect(Path(folder) / "log.db")
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            write(conn, rows)
            done += batch
        elapsed = time.perf_counter() - start
        conn.close()
    return done / elapsed


def answered(base: str) -> int:
    import re

    import httpx

    text = httpx.get(f"{base}/metrics", timeout=5).text
    return int(float(re.search(r"^predicted_items_total ([\d.e+]+)$", text, re.M).group(1)))


def committed(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM predictions").fetchone()[0])
    finally:
        conn.close()


def kill_under_load(project: Path, seconds: float, connections: int, durable: bool = False) -> dict[str, object]:
    """The project's API under wrk: the log's lag while it runs, and what a SIGKILL loses."""
    import signal
    import subprocess
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from mlcore.serving.smoke import free_port, running_server
    from serve import lua_script, package_of, request_bodies

    with tempfile.TemporaryDirectory() as tmp:
        db, script, port = Path(tmp) / "log.db", Path(tmp) / "bodies.lua", free_port()
        script.write_text(lua_script(request_bodies(project, None)))
        cmd = [sys.executable, "-m", f"{package_of(project)}.api", f"serve.port={port}", "serve.log_level=warning"]
        cmd += [f"serve.prediction_log={db}", f"serve.log_durable={str(durable).lower()}"]
        with running_server(cmd, port, cwd=project, env={"PYTHONPATH": str(project / "src")}) as (base, proc):
            wrk = subprocess.Popen(  # noqa: S603 - fixed arguments
                ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds) + 5}s", "-s", str(script), base],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            samples, start = [], time.monotonic()
            while time.monotonic() - start < seconds:
                time.sleep(0.5)
                done, rows = answered(base), committed(db)
                samples.append({"t": round(time.monotonic() - start, 2), "answered": done, "committed": rows})
            before = answered(base)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            wrk.kill()
            wrk.wait()
        rows = committed(db)
    rate = samples[-1]["answered"] / samples[-1]["t"]
    lags = [s["answered"] - s["committed"] for s in samples]
    lost = max(before - rows, 0)
    return {
        "project": project.name,
        "durable": durable,
        "connections": connections,
        "answered_rows_per_s": round(rate),
        "max_lag_rows": max(lags),
        "max_lag_s": round(max(lags) / rate, 3),
        "answered_before_kill": before,
        "committed_after_kill": rows,
        "lost_rows": lost,
        "lost_s": round(lost / rate, 3),
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill", metavar="PROJECT", help="SIGKILL the project's API under load (see above)")
    parser.add_argument("--load-seconds", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per variant, interleaved")
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    if args.kill:
        figures = [
            kill_under_load(ROOT / args.kill, args.load_seconds, args.connections, durable) for durable in (False, True)
        ]
        for run in figures:
            print(json.dumps({k: v for k, v in run.items() if k != "samples"}, indent=2))
        out = ROOT / "benchmarks" / "results" / f"predlog.{args.kill}.kill.json"
        out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"figures: {out.relative_to(ROOT)}")
        return
    writers = {"batch statement (mlcore)": batch_statement, "executemany (before)": executemany}
    results = []
    for busy in (False, True):
        rates: dict[str, list[float]] = {name: [] for name in writers}
        with busy_thread(busy):
            for _ in range(args.rounds):
                for name, write in writers.items():
                    rates[name].append(rows_per_second(write, args.batch, args.seconds))
        for name, measured in rates.items():
            low, median = min(measured), statistics.median(measured)
            results.append(
                {"writer": name, "busy_gil": busy, "min_rows_per_s": round(low), "median_rows_per_s": round(median)}
            )
            print(
                f"{name:<26} busy GIL: {'yes' if busy else 'no ':<3}  min {low:>9,.0f}  median {median:>9,.0f} rows/s"
            )
    out = ROOT / "benchmarks" / "results" / "predlog.json"
    record = {
        "batch_rows": args.batch,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "sqlite": sqlite3.sqlite_version,
        "results": results,
    }
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"figures: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
