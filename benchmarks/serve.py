"""Serving benchmark: a project's API on 127.0.0.1 under wrk, single-item POST /predict.

    python benchmarks/serve.py spam-classifier [--workers 1] [--seconds 15] [--connections 32]
    python benchmarks/serve.py customer-segmentation --items transaction_items

The server runs as `make serve` runs it (prediction log on). Request bodies cycle through rows
of the project's test split (``schemas.request_items``), or through what the project's
``schemas.<items>(project_root, cfg, 200)`` returns. The load generator (wrk, one thread) shares
the machine with the server. Figures, with the server's resident memory, go to
benchmarks/results/<project>.json (``<project>.<items>.json`` with ``--items``).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (uvicorn workers), in MiB."""
    total = 0
    pids = [pid] + [
        int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            match = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
            total += int(match.group(1)) if match else 0
    return round(total / 1024, 1)


def lua_script(bodies: list[str]) -> str:
    quoted = ",\n".join(json.dumps(b) for b in bodies)
    return f"""
bodies = {{
{quoted}
}}
counter = 0
request = function()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  return wrk.format("POST", "/predict", {{["Content-Type"] = "application/json"}}, body)
end
"""


def parse_wrk(text: str) -> dict[str, float]:
    def ms(value: str, unit: str) -> float:
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    out: dict[str, float] = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", text)
        out[f"p{pct}_ms"] = round(ms(*match.groups()), 3)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    out["requests"] = int(re.search(r"(\d+) requests in", text).group(1))
    return out


def bench(project: Path, workers: int, seconds: int, connections: int, items: str | None = None) -> dict[str, object]:
    from mlcore.foundation.config import load_params
    from mlcore.serving.smoke import free_port, running_server

    record = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    package = record["package_name"]
    sys.path.insert(0, str(project / "src"))
    schemas = __import__(f"{package}.schemas", fromlist=["request_items"])
    cfg = load_params(project / "params.yaml")
    test = pd.read_parquet(project / cfg.paths.processed / "test.parquet")
    chosen = getattr(schemas, items)(project, cfg, 200) if items else schemas.request_items(test.head(200))
    bodies = [json.dumps(item) for item in chosen]
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        f"{package}.api",
        f"serve.port={port}",
        f"serve.workers={workers}",
        "serve.log_level=warning",
    ]
    env = {"PYTHONPATH": str(project / "src")}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua_script(bodies))
        script = fh.name
    with running_server(cmd, port, cwd=project, env=env) as (base, proc):
        time.sleep(1.0 if workers == 1 else 3.0)
        warm = ["wrk", "-t1", f"-c{connections}", "-d3s", "-s", script, base]
        subprocess.run(warm, capture_output=True, text=True, check=True)
        run = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, base],
            capture_output=True,
            text=True,
            check=True,
        )
        memory = rss_mb(proc.pid)
    Path(script).unlink()
    result = {
        "project": project.name,
        "endpoint": "POST /predict (one item)",
        "items": items or "request_items",
        "workers": workers,
        "connections": connections,
        "seconds": seconds,
        **parse_wrk(run.stdout),
        "server_rss_mib": memory,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "load_generator": "wrk 1 thread, same machine",
        "date": time.strftime("%Y-%m-%d"),
    }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="+")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--items", help="a function of the project's schemas module that returns request items")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    for name in args.projects:
        results = [bench(ROOT / name, w, args.seconds, args.connections, args.items) for w in args.workers]
        out = ROOT / "benchmarks" / "results" / (f"{name}.{args.items}.json" if args.items else f"{name}.json")
        out.write_text(json.dumps(results, indent=2) + "\n")
        for r in results:
            print(
                f"{name}: {r['workers']} worker(s): {r['requests_per_s']:.0f} req/s, p50 {r['p50_ms']} ms, "
                f"p99 {r['p99_ms']} ms, {r['non_2xx']} non-2xx, server RSS {r['server_rss_mib']} MiB"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
