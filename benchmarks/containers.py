"""Container against host: each project's serving image under wrk on loopback, side by side in one
run with the same service started outside the container (same model, same workers, same bodies).

    python benchmarks/containers.py [PROJECT ...] [--workers 2] [--seconds 15] [--connections 32]

Each project's image is built first (``mlcore.deploy.image``: the exported champion inside, the
suite's Debian base), so a project needs a champion (`make train` or `make demo`). The container
shares the host's network namespace and listens on 127.0.0.1 (no port forwarding in the path).
Per project: the image's size and build time, then requests/s and p50/p99 latency of the host
service and of the container, alternating host, container, host, container (``--rounds``) so that
the machine's drift falls on both, and the container's throughput as a share of the host's (the
median of the rounds). Figures go to benchmarks/results/containers.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from serve import load, lua_script, measure, package_of, request_bodies  # noqa: E402


def container_round(engine: Any, ref: str, workers: int, script: str, seconds: int, connections: int) -> dict[str, Any]:
    from mlcore.deploy.container import running_container
    from mlcore.serving.smoke import free_port

    args = ["serve.prefer_registry=false", f"serve.workers={workers}", "serve.log_level=warning"]
    with running_container(engine, ref, free_port(), args=args) as running:
        return measure(running.base, workers, script, seconds, connections)


def host_round(project: Path, workers: int, script: str, seconds: int, connections: int) -> dict[str, Any]:
    from mlcore.serving.smoke import free_port

    port = free_port()
    cmd = [sys.executable, "-m", f"{package_of(project)}.api", f"serve.workers={workers}", "serve.log_level=warning"]
    cmd += [f"serve.port={port}", "serve.prefer_registry=false"]
    figures = load(cmd, port, project, {"PYTHONPATH": str(project / "src")}, workers, script, seconds, connections)
    return {k: figures[k] for k in ("requests_per_s", "p50_ms", "p90_ms", "p99_ms", "non_2xx", "requests")}


def bench(project: Path, workers: int, seconds: int, connections: int, rounds: int) -> dict[str, Any]:
    from mlcore.deploy.engine import require_engine
    from mlcore.deploy.image import SERVING_BASE, build
    from mlcore.foundation.config import load_params

    engine = require_engine()
    cfg = load_params(project / "params.yaml")
    print(f"[bench] {project.name}: building the image", flush=True)
    built = build(project, cfg, engine=engine)
    base, image = engine.inspect(SERVING_BASE), engine.inspect(built.ref)
    base_layers = base["RootFS"]["Layers"]
    shares_base = image["RootFS"]["Layers"][: len(base_layers)] == base_layers
    host, inside = [], []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bodies.lua"
        script.write_text(lua_script(request_bodies(project, None)))
        for number in range(rounds):
            print(f"[bench] {project.name}: round {number + 1}/{rounds}, host then container", flush=True)
            host.append(host_round(project, workers, str(script), seconds, connections))
            inside.append(container_round(engine, built.ref, workers, str(script), seconds, connections))
    ratios = [c["requests_per_s"] / h["requests_per_s"] for h, c in zip(host, inside, strict=True)]
    best = lambda runs: max(runs, key=lambda r: r["requests_per_s"])  # noqa: E731
    return {
        "project": project.name,
        "image": built.ref,
        "image_size_mb": round(built.size_bytes / 1e6),
        "serving_base_mb": round(int(base["Size"]) / 1e6),
        "shares_serving_base": shares_base,
        "own_layers_mb": round((built.size_bytes - int(base["Size"])) / 1e6),
        "build_seconds": built.seconds,
        "workers": workers,
        "connections": connections,
        "seconds": seconds,
        "host": best(host),
        "container": best(inside),
        "container_over_host": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "endpoint": "POST /predict (one item)",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="*")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    names = args.projects or sorted(p.parent.name for p in ROOT.glob("*/.cruft.json"))
    results = [bench(ROOT / name, args.workers, args.seconds, args.connections, args.rounds) for name in names]
    out = ROOT / "benchmarks" / "results" / "containers.json"
    machine = f"{platform.machine()}, {__import__('os').cpu_count()} cores"
    meta = {"machine": machine, "load_generator": "wrk 1 thread, same machine", "date": time.strftime("%Y-%m-%d")}
    out.write_text(json.dumps({**meta, "projects": results}, indent=2) + "\n")
    for r in results:
        h, c = r["host"], r["container"]
        print(
            f"{r['project']}: image {r['image_size_mb']} MB ({r['own_layers_mb']} MB its own); {r['workers']} workers: host {h['requests_per_s']:.0f} req/s "
            f"p99 {h['p99_ms']} ms, container {c['requests_per_s']:.0f} req/s p99 {c['p99_ms']} ms, "
            f"container/host {r['container_over_host']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
