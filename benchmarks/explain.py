"""Explanation latency: ``POST /explain`` beside ``POST /predict`` on the same rows, one item per
request from one sequential client, in one run per project (the service as `make serve` runs it).

    python benchmarks/explain.py spam-classifier customer-segmentation [--requests 300]

Projects whose service has no ``/explain`` are reported as such. Figures (p50, p90, p99 in ms) go to
benchmarks/results/explain.json (a project's figures replace its earlier ones).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def cruft(project: Path, key: str) -> str:
    return json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"][key]


def rows(project: Path, n: int) -> list[dict[str, Any]]:
    import importlib

    from mlcore.foundation.config import load_params

    sys.path.insert(0, str(project / "src"))
    predictor = importlib.import_module(f"{cruft(project, 'package_name')}.predictor")
    cfg = load_params(project / "params.yaml")
    test = pd.read_parquet(project / cfg.paths.processed / "test.parquet")
    items = predictor.SERVED.request_items(test.head(n))
    return [items[i % len(items)] for i in range(n)]


def latencies(client: Any, url: str, bodies: list[dict[str, Any]]) -> dict[str, float]:
    for body in bodies[:20]:  # warm
        client.post(url, json=body).raise_for_status()
    times = []
    for body in bodies:
        started = time.perf_counter()
        client.post(url, json=body).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=100)
    return {"p50_ms": round(cuts[49], 2), "p90_ms": round(cuts[89], 2), "p99_ms": round(cuts[98], 2)}


def bench(project: Path, n: int) -> dict[str, Any]:
    import httpx
    from mlcore.serving.smoke import free_port, running_server

    bodies = rows(project, n)
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        f"{cruft(project, 'package_name')}.api",
        f"serve.port={port}",
        "serve.log_level=warning",
    ]
    env = {"PYTHONPATH": str(project / "src")}
    with running_server(cmd, port, cwd=project, env=env, timeout=180) as (base, _), httpx.Client(timeout=60) as client:
        if "/explain" not in client.get(f"{base}/openapi.json").json()["paths"]:
            return {"explain": None, "note": "no /explain for this task type yet"}
        return {
            "predict": latencies(client, f"{base}/predict", bodies),
            "explain": latencies(client, f"{base}/explain", bodies),
        }


def main() -> None:
    cli = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    cli.add_argument("projects", nargs="+")
    cli.add_argument("--requests", type=int, default=300)
    args = cli.parse_args()
    out = ROOT / "benchmarks" / "results" / "explain.json"
    recorded = json.loads(out.read_text()) if out.exists() else {}
    results = recorded.get("projects", {})
    for name in args.projects:
        results[name] = {**bench(ROOT / name, args.requests), "date": time.strftime("%Y-%m-%d %H:%M")}
        print(f"[bench] {name}: {json.dumps(results[name])}", flush=True)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "requests": args.requests}
    out.write_text(json.dumps({**meta, "projects": results}, indent=2) + "\n")
    print(f"[bench] -> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
