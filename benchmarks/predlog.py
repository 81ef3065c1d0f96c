"""Prediction-log benchmark: the most rows a second the log writer commits, side by side in one
run with the writer it replaced (``executemany``, one statement per row), each alone and beside a
thread that keeps the GIL busy the way a loaded event loop does.

    python benchmarks/predlog.py [--seconds 1] [--rounds 5] [--batch 5000]

Each variant commits batches of ``--batch`` rows (one prediction each: a short text in, a label
and probability out) into a fresh WAL database for ``--seconds``, ``--rounds`` times, interleaved
with the other variant; the slowest round matters (whether the writer keeps up), and beside a busy
thread the row-per-statement writer swings between rounds (the convoy effect). Figures go to
benchmarks/results/predlog.json; compare them with the request rates of benchmarks/serve.py.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per variant, interleaved")
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
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
