"""`make demo`: every project end to end, then one summary table.

For each project: `make train` (compose params.yaml, `dvc repro`: ingest, validate, split,
train, evaluate, promote; clustering projects add features and profile), a served-model check
(the API on 127.0.0.1, real requests, stopped by PID), and `make monitor` on the traffic the check
logged. Then the closed loop once on spam-classifier (``tools/demo_loop.py``), as soon as
spam-classifier is done.

Projects are independent (each its own DVC repository, MLflow store and port), so ``--jobs N``
(``DEMO_JOBS=N``) runs N of them at once, the longest first, each line of a project's output
prefixed with its name. The default is 1, one after another: measured from scratch on two cores,
two at a time put both networks' trainings side by side and the transformer's steps ran 4-7x
slower (docs/measured.md); it pays only with cores to spare.
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
HEAVY_FIRST = ("sentiment-analyzer", "image-classifier")  # the longest pipelines start first


def say(prefix: str, text: str) -> None:
    with PRINTING:
        for line in text.splitlines() or [""]:
            print(f"{prefix}{line}", flush=True)


def banner(text: str, prefix: str = "") -> None:
    say(prefix, f"=== {text} ===")


def run(cmd: list[str], cwd: Path, capture: bool = False, prefix: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; its output streams line by line behind ``prefix`` (or is captured: stdout kept,
    stderr streamed)."""
    say(prefix, f"$ {' '.join(cmd)}")
    with subprocess.Popen(
        cmd,
        cwd=cwd,
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


def demo_project(project: Path, prefix: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {"project": project.name}
    start = time.monotonic()
    banner(f"{project.name}: pipeline (make train)", prefix)
    if run(["make", "--no-print-directory", "train"], project, prefix=prefix).returncode != 0:
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
    smoke = run([sys.executable, "-m", f"{package}.smoke", "--requests", "300"], project, capture=True, prefix=prefix)
    if smoke.returncode:
        say(prefix, smoke.stderr[-1500:])
    result = json.loads(smoke.stdout.strip().splitlines()[-1]) if smoke.stdout.strip() else {}
    say(prefix, json.dumps(result))
    row["served"] = (
        f"{result.get('ok', 0)}/{result.get('requests', 0)} ok, p99 {result.get('p99_ms')} ms, v{result.get('metadata_version')}"
    )

    banner(f"{project.name}: drift check (make monitor)", prefix)
    # The monitor itself, not `make monitor`: make turns its exit code 1 (drift) into 2.
    monitor = run([sys.executable, "-m", f"{package}.monitor"], project, prefix=prefix)
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


def ordered(names: list[str]) -> list[str]:
    """The longest pipelines first (so the short ones fill the other core meanwhile)."""
    return sorted(
        names, key=lambda name: (name not in HEAVY_FIRST, HEAVY_FIRST.index(name) if name in HEAVY_FIRST else 0)
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="every project end to end, then a summary")
    parser.add_argument("projects", nargs="+")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("DEMO_JOBS", "1")))
    args = parser.parse_args(argv)
    start = time.monotonic()
    width = max(len(name) for name in args.projects)
    loop: dict[str, int] = {}

    def one(name: str) -> dict[str, Any]:
        prefix = f"[{name:<{width}}] " if args.jobs > 1 else ""
        row = demo_project(ROOT / name, prefix)
        if name == "spam-classifier" and row.get("status") == "ok":
            banner("spam-classifier: the closed loop (drift -> retrain -> canary -> A/B test -> promotion)", prefix)
            cmd = [sys.executable, str(ROOT / "tools" / "demo_loop.py")]
            began = time.monotonic()
            loop["rc"] = run(cmd, ROOT, prefix=prefix).returncode
            loop["seconds"] = round(time.monotonic() - began)
        return row

    names = ordered(args.projects)
    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        done = dict(zip(names, pool.map(one, names), strict=True))
    rows = [done[name] for name in args.projects]
    banner(f"summary ({time.monotonic() - start:.0f} s, {max(args.jobs, 1)} at a time)")
    print(table(rows))
    if loop:
        print(f"closed loop on spam-classifier: {'ok' if loop['rc'] == 0 else 'FAILED'} ({loop['seconds']} s)")
    print("\nMLflow UI with every run, registered model and its @champion alias:  make ui  (http://127.0.0.1:5000)")
    return 0 if loop.get("rc", 0) == 0 and all(r.get("status") == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
