"""Batch-scoring benchmark: rows a second and peak memory of `make score` (in process), side by
side in one run with the same rows answered by the project's HTTP service in batched requests,
and with `make score ENGINE=spark` (Spark in local mode).

    python benchmarks/batch.py spam-classifier housing-price [--rows 100000] [--dl-rows 5000]
        [--batch 100] [--clients 2] [--chunk 10000]

Per project (trained: `make train` or `make demo`): the test split's request items repeated to
``--rows`` rows (``--dl-rows`` for the two networks) in a parquet file; then

- **in-process**: ``python -m mlcore.batch`` in its own process;
- **HTTP**: the project's API as `make serve` runs it (one worker, prediction log on), answering
  the same rows as ``POST /predict`` bodies of ``--batch`` items from ``--clients`` concurrent
  clients (JSON encoding and decoding on both sides counted: that is the job's cost over HTTP);
- **Spark**: ``python -m mlcore.batch --engine spark`` with ``SPARK_MASTER=local[2]`` (the JVM's
  start and the model's load on the executors included, as a job pays them).

Peak memory is the resident memory of the whole process tree (server and workers; Spark's driver,
JVM and Python workers), sampled every 0.1 s. Figures go to benchmarks/results/batch.json (a
project's figures replace its earlier ones; the others are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ("image_classification", "text_transformer_classification")


def cruft(project: Path, key: str) -> str:
    return json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"][key]


@contextmanager
def peak_tree_rss(pid: Callable[[], int | None]) -> Iterator[dict[str, float]]:
    """Peak resident memory (MiB) of ``pid()`` and its descendants while the block runs."""
    import psutil

    seen = {"peak_mib": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            root = pid()
            if root is not None:
                try:
                    procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
                    total = 0
                    for proc in procs:
                        with suppress(psutil.Error):  # a process that ended meanwhile
                            total += proc.memory_info().rss
                    seen["peak_mib"] = max(seen["peak_mib"], total / 2**20)
                except psutil.Error:
                    pass
            stop.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        seen["peak_mib"] = round(seen["peak_mib"], 1)


def input_rows(project: Path, n: int) -> list[dict[str, Any]]:
    import importlib

    from mlcore.foundation.config import load_params

    sys.path.insert(0, str(project / "src"))
    predictor = importlib.import_module(f"{cruft(project, 'package_name')}.predictor")
    cfg = load_params(project / "params.yaml")
    test = pd.read_parquet(project / cfg.paths.processed / "test.parquet")
    items = predictor.SERVED.request_items(test.head(500))
    return [items[i % len(items)] for i in range(n)]


def batch_job(project: Path, source: Path, output: Path, engine: str, chunk: int) -> dict[str, Any]:
    package = cruft(project, "package_name")
    cmd = [sys.executable, "-m", "mlcore.batch", "--served", f"{package}.predictor:SERVED", "--engine", engine]
    cmd += ["--model", "models/champion", "--input", str(source), "--output", str(output), "--chunk", str(chunk)]
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "SPARK_MASTER": "local[2]"}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with peak_tree_rss(lambda: proc.pid) as memory:
        out, err = proc.communicate(timeout=3600)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{project.name} {engine}: {err[-3000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    return {
        "rows": summary["rows_in"],
        "rows_per_s": round(summary["rows_in"] / wall, 1),
        "job_seconds": summary["seconds"],
        "wall_seconds": round(wall, 2),
        "peak_rss_mib": memory["peak_mib"],
    }


def http_job(project: Path, rows: list[dict[str, Any]], batch: int, clients: int) -> dict[str, Any]:
    import httpx
    from mlcore.serving.smoke import free_port, running_server

    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        f"{cruft(project, 'package_name')}.api",
        f"serve.port={port}",
        "serve.log_level=warning",
    ]
    bodies = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    env = {"PYTHONPATH": str(project / "src")}
    with (
        running_server(cmd, port, cwd=project, env=env, timeout=180) as (base, proc),
        httpx.Client(timeout=600) as client,
    ):
        client.post(f"{base}/predict", json={"items": bodies[0]}).raise_for_status()  # warm

        def send(items: list[dict[str, Any]]) -> int:
            response = client.post(f"{base}/predict", json={"items": items})
            response.raise_for_status()
            return len(response.json()["predictions"])

        with peak_tree_rss(lambda: proc.pid) as memory:
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                answered = sum(pool.map(send, bodies))
            wall = time.perf_counter() - started
    assert answered == len(rows), (answered, len(rows))
    return {
        "rows": answered,
        "rows_per_s": round(answered / wall, 1),
        "wall_seconds": round(wall, 2),
        "peak_rss_mib": memory["peak_mib"],
    }


def bench(project: Path, n: int, batch: int, clients: int, chunk: int) -> dict[str, Any]:
    rows = input_rows(project, n)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.parquet"
        pd.DataFrame(rows).to_parquet(source)
        print(f"[bench] {project.name}: {n} rows, in-process", flush=True)
        local = batch_job(project, source, Path(tmp) / "local.parquet", "local", chunk)
        print(f"[bench] {project.name}: HTTP, {clients} clients x {batch} items", flush=True)
        http = http_job(project, rows, batch, clients)
        print(f"[bench] {project.name}: Spark local[2]", flush=True)
        spark = batch_job(project, source, Path(tmp) / "spark.parquet", "spark", chunk)
    figures = {
        "in_process": local,
        "http_batched": http,
        "spark_local": spark,
        "in_process_over_http": round(local["rows_per_s"] / http["rows_per_s"], 2),
        "spark_over_in_process": round(spark["rows_per_s"] / local["rows_per_s"], 2),
    }
    print(f"[bench] {project.name}: {json.dumps(figures)}", flush=True)
    return figures


def main() -> None:
    cli = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    cli.add_argument("projects", nargs="+")
    cli.add_argument("--rows", type=int, default=100_000)
    cli.add_argument("--dl-rows", type=int, default=5_000)
    cli.add_argument("--batch", type=int, default=100)
    cli.add_argument("--clients", type=int, default=2)
    cli.add_argument("--chunk", type=int, default=10_000)
    cli.add_argument("--dl-chunk", type=int, default=500, help="the networks' chunk (their Makefile default)")
    args = cli.parse_args()
    results = {}
    for name in args.projects:
        project = ROOT / name
        network = cruft(project, "task_type") in NETWORKS
        n, chunk = (args.dl_rows, args.dl_chunk) if network else (args.rows, args.chunk)
        results[name] = {**bench(project, n, args.batch, args.clients, chunk), "chunk": chunk}
        results[name]["date"] = time.strftime("%Y-%m-%d %H:%M")
    out = ROOT / "benchmarks" / "results" / "batch.json"
    recorded = json.loads(out.read_text()) if out.exists() else {}  # other projects' figures are kept
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "settings": vars(args)}
    merged = {**recorded, **meta, "projects": {**recorded.get("projects", {}), **results}}
    out.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"[bench] -> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
