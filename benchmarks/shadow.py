"""Shadow mode's cost: a project's API under wrk with and without a shadow challenger, one run.

    python benchmarks/shadow.py spam-classifier [--seconds 15] [--connections 32] [--rounds 2]

The same server (`make serve`, prediction log on) is started alternately with
``rollout.mode=champion`` and ``rollout.mode=shadow`` (the challenger scores a copy of every
request off the request path; copies beyond ``rollout.shadow_max_pending`` in flight are skipped
and counted), ``--rounds`` times each, interleaved. The challenger is ``@challenger`` of the
registry; when there is none, the version before the champion is given the alias (said on
stderr). Figures go to benchmarks/results/shadow.<project>.json: requests/s and latency
percentiles of each mode, the throughput ratio, and how many shadow copies were scored or skipped.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from serve import lua_script, package_of, parse_wrk, request_bodies  # noqa: E402


def ensure_challenger(project: Path) -> str:
    from mlcore.foundation.config import load_params
    from mlcore.lifecycle import champion, tracking

    cfg = load_params(project / "params.yaml")
    tracking.configure(project, cfg.project.experiment)
    name = cfg.project.model_name
    current = champion.alias_version(name, champion.CHALLENGER)
    if current is not None:
        return str(current.version)
    version = str(int(champion.alias_version(name, "champion").version) - 1)
    champion.set_challenger(name, version, "benchmarks/shadow.py")
    print(f"[bench] {name}@challenger -> v{version} (there was none)", file=sys.stderr)
    return version


def run_mode(project: Path, mode: str, script: str, seconds: int, connections: int) -> dict[str, Any]:
    from mlcore.serving.smoke import free_port, running_server

    port = free_port()
    cmd = [sys.executable, "-m", f"{package_of(project)}.api", f"serve.port={port}", "serve.log_level=warning"]
    cmd.append(f"rollout.mode={mode}")
    with running_server(cmd, port, cwd=project, env={"PYTHONPATH": str(project / "src")}, timeout=120) as (base, _):
        status = json.loads(subprocess.run(["curl", "-s", f"{base}/rollout"], capture_output=True, text=True).stdout)
        assert status["mode"] == mode, status
        subprocess.run(["wrk", "-t1", f"-c{connections}", "-d3s", "-s", script, base], capture_output=True, check=True)
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, base],
            capture_output=True,
            text=True,
            check=True,
        )
        time.sleep(1.0)  # shadow copies still in flight finish
        metrics = subprocess.run(["curl", "-s", f"{base}/metrics"], capture_output=True, text=True).stdout
    shadowed = sum(float(v) for v in re.findall(r'rollout_requests_total\{arm="shadow"[^}]*\} ([\d.e+]+)', metrics))
    skipped = re.search(r"rollout_shadow_skipped_total ([\d.e+]+)", metrics)
    return {
        **parse_wrk(out.stdout),
        "shadow_scored": int(shadowed),
        "shadow_skipped": int(float(skipped.group(1))) if skipped else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    project = ROOT / args.project
    challenger = ensure_challenger(project)
    rounds: dict[str, list[dict[str, Any]]] = {"champion": [], "shadow": []}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bodies.lua"
        script.write_text(lua_script(request_bodies(project, None)))
        for _ in range(args.rounds):
            for mode in rounds:
                rounds[mode].append(run_mode(project, mode, str(script), args.seconds, args.connections))
                print(f"[bench] {mode}: {rounds[mode][-1]}", file=sys.stderr)
    rps = {mode: median(r["requests_per_s"] for r in runs) for mode, runs in rounds.items()}
    result = {
        "project": args.project,
        "endpoint": "POST /predict (one item)",
        "challenger_version": challenger,
        "connections": args.connections,
        "seconds": args.seconds,
        "rounds": rounds,
        "median_requests_per_s": rps,
        "shadow_throughput_ratio": round(rps["shadow"] / rps["champion"], 3),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "load_generator": "wrk 1 thread, same machine",
        "date": time.strftime("%Y-%m-%d"),
    }
    out = ROOT / "benchmarks" / "results" / f"shadow.{args.project}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("median_requests_per_s", "shadow_throughput_ratio")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
