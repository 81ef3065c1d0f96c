"""`make demo`: every project end to end, then one summary table.

For each project: `make train` (compose params.yaml, `dvc repro`: ingest, validate, split,
train, evaluate, promote; clustering projects add features and profile), a served-model check
(the API on 127.0.0.1, real requests, stopped by PID), and `make monitor` on the traffic the check
logged. Then the closed loop once on spam-classifier (``tools/demo_loop.py``), last and alone
(its guard rail judges live latencies).

Projects are independent (each its own DVC repository, MLflow store and port), so with cores to
spare they can run in two lanes (``--lanes 2``, ``DEMO_LANES=2``): the networks (``NETWORKS``) one
after another at normal priority, the other projects beside them at the lowest CPU priority
(``nice 19``), each line of output prefixed with its project's name. The default is one lane, every
project one after another: on two cores the second lane did not pay (docs/measured.md: 1031 s
against 1026 s; the networks' steps slowed by 15-20% while the other lane crawled), and two
networks never train at once (side by side the transformer's steps ran 4-7x slower).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


PRINTING = threading.Lock()
NETWORKS = ("sentiment-analyzer", "image-classifier")  # torch trainings: never two at once, full priority
LOWEST_PRIORITY = 19  # nice value of the other lane: it runs on what the networks leave idle


def say(prefix: str, text: str) -> None:
    with PRINTING:
        for line in text.splitlines() or [""]:
            print(f"{prefix}{line}", flush=True)


def banner(text: str, prefix: str = "") -> None:
    say(prefix, f"=== {text} ===")


def run(
    cmd: list[str], cwd: Path, capture: bool = False, prefix: str = "", nice: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (at CPU priority ``nice``, inherited by its children); its output streams line by
    line behind ``prefix`` (or is captured: stdout kept, stderr streamed)."""
    say(prefix, f"$ {' '.join(cmd)}")
    with subprocess.Popen(
        ["nice", "-n", str(nice), *cmd] if nice else cmd,
        cwd=cwd,
        # A lowered lane's OpenMP threads sleep when idle instead of spinning on its small share.
        env={"OMP_WAIT_POLICY": "PASSIVE", **os.environ} if nice else None,
        text=True,
        errors="replace",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if capture else subprocess.STDOUT,
    ) as proc:
        assert proc.stdout is not None
        if capture:
            assert proc.stderr is not None
            out, err = proc.communicate()
            return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
        for line in proc.stdout:
            say(prefix, line.rstrip("\n"))
        return subprocess.CompletedProcess(cmd, proc.wait(), "", "")


def demo_project(project: Path, prefix: str = "", nice: int = 0) -> dict[str, Any]:
    row: dict[str, Any] = {"project": project.name}
    start = time.monotonic()
    banner(f"{project.name}: pipeline (make train)", prefix)
    if run(["make", "--no-print-directory", "train"], project, prefix=prefix, nice=nice).returncode != 0:
        row["status"] = "pipeline failed"
        return row
    paths = yaml.safe_load((project / "params.yaml").read_text())["paths"]  # the files the stages wrote
    validation = json.loads((project / paths["validation"]).read_text())
    decision = json.loads((project / paths["promotion"]).read_text())
    row["rows"] = validation["stats"]["rows"]
    row["metric"] = f"{decision['primary_metric']}={decision['candidate'][decision['primary_metric']]:.4f}"
    row["version"] = decision["version"]
    row["promoted"] = "yes" if decision["promoted"] else "no"
    package = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]["package_name"]

    banner(f"{project.name}: served-model check (API on 127.0.0.1)", prefix)
    smoke = run(
        [sys.executable, "-m", f"{package}.smoke", "--requests", "300"], project, capture=True, prefix=prefix, nice=nice
    )
    if smoke.returncode:
        say(prefix, smoke.stderr[-1500:])
    result = json.loads(smoke.stdout.strip().splitlines()[-1]) if smoke.stdout.strip() else {}
    say(prefix, json.dumps({k: v for k, v in result.items() if k != "explained"}))
    explained = result.get("explained")
    if explained and "top_terms" in explained:
        terms = ", ".join(f"{name} {value:+.3g}" for name, value in explained["top_terms"])
        say(prefix, f"explained: {json.dumps(explained['answer'])} <- {terms} ({explained['output']})")
    else:
        say(prefix, "explained: no /explain for this task type yet")
    row["served"] = (
        f"{result.get('ok', 0)}/{result.get('requests', 0)} ok, p99 {result.get('p99_ms')} ms, v{result.get('metadata_version')}"
    )

    banner(f"{project.name}: drift check (make monitor)", prefix)
    # The monitor itself, not `make monitor`: make turns its exit code 1 (drift) into 2.
    monitor = run([sys.executable, "-m", f"{package}.monitor"], project, prefix=prefix, nice=nice)
    row["drift"] = {0: "none", 1: "DRIFT", 2: "not judged"}.get(monitor.returncode, "error")
    row["status"] = "ok" if smoke.returncode == 0 and monitor.returncode in (0, 1, 2) else "check failed"
    row["seconds"] = round(time.monotonic() - start)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    cols = ["project", "rows", "metric", "version", "promoted", "served", "drift", "status", "seconds"]
    widths = {c: max(len(c), *(len(str(r.get(c, "-"))) for r in rows)) for c in cols}
    line = "  ".join(f"{c:<{widths[c]}}" for c in cols)
    sep = "  ".join("-" * widths[c] for c in cols)
    body = ["  ".join(f"{str(r.get(c, '-')):<{widths[c]}}" for c in cols) for r in rows]
    return "\n".join([line, sep, *body])


def lanes_of(names: list[str], lanes: int) -> list[list[str]]:
    """The projects by lane: the networks first (in ``NETWORKS`` order), then the others; with two
    lanes, the networks in one and the others in the second."""
    networks = [n for n in NETWORKS if n in names]
    others = [n for n in names if n not in NETWORKS]
    return [networks + others] if lanes == 1 or not networks or not others else [networks, others]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="every project end to end, then a summary")
    parser.add_argument("projects", nargs="+")
    parser.add_argument("--lanes", type=int, choices=(1, 2), default=int(os.environ.get("DEMO_LANES", "1")))
    args = parser.parse_args(argv)
    start = time.monotonic()
    lanes = lanes_of(args.projects, args.lanes)
    width = max(len(name) for name in args.projects)
    done: dict[str, dict[str, Any]] = {}

    def lane(names: list[str], nice: int) -> None:
        for name in names:
            done[name] = demo_project(ROOT / name, f"[{name:<{width}}] " if len(lanes) > 1 else "", nice)

    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        futures = [pool.submit(lane, names, LOWEST_PRIORITY if i else 0) for i, names in enumerate(lanes)]
        for future in futures:
            future.result()
    loop: dict[str, int] = {}
    if done.get("spam-classifier", {}).get("status") == "ok":
        banner("spam-classifier: the closed loop (drift -> retrain -> canary -> A/B test -> promotion)")
        began = time.monotonic()
        loop["rc"] = run([sys.executable, str(ROOT / "tools" / "demo_loop.py")], ROOT).returncode
        loop["seconds"] = round(time.monotonic() - began)
    rows = [done[name] for name in args.projects]
    banner(f"summary ({time.monotonic() - start:.0f} s, {len(lanes)} lane(s))")
    print(table(rows))
    if loop:
        print(f"closed loop on spam-classifier: {'ok' if loop['rc'] == 0 else 'FAILED'} ({loop['seconds']} s)")
    print("\nMLflow UI with every run, registered model and its @champion alias:  make ui  (http://127.0.0.1:5000)")
    return 0 if loop.get("rc", 0) == 0 and all(r.get("status") == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
