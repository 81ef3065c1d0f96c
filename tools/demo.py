"""`make demo`: every project end to end, then one summary table.

For each project: `make train` (compose params.yaml, `dvc repro`: ingest, validate, split,
train, evaluate, promote; clustering projects add features and profile), a served-model check
(the API on 127.0.0.1, real requests, stopped by PID), and `make monitor` on the traffic the check
logged. Then the closed loop once on spam-classifier (``tools/demo_loop.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def run(cmd: list[str], cwd: Path, capture: bool = False) -> subprocess.CompletedProcess[str]:
    print(f"$ {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, cwd=cwd, text=True, capture_output=capture, check=False)


def demo_project(project: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"project": project.name}
    start = time.monotonic()
    banner(f"{project.name}: pipeline (make train)")
    if run(["make", "--no-print-directory", "train"], project).returncode != 0:
        row["status"] = "pipeline failed"
        return row
    reports = project / "reports"
    validation = json.loads((reports / "validation.json").read_text())
    decision = json.loads((reports / "promotion.json").read_text())
    row["rows"] = validation["stats"]["rows"]
    row["metric"] = f"{decision['primary_metric']}={decision['candidate'][decision['primary_metric']]:.4f}"
    row["version"] = decision["version"]
    row["promoted"] = "yes" if decision["promoted"] else "no"
    package = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]["package_name"]

    banner(f"{project.name}: served-model check (API on 127.0.0.1)")
    smoke = run([sys.executable, "-m", f"{package}.smoke", "--requests", "300"], project, capture=True)
    print(smoke.stderr[-1500:] if smoke.returncode else "", end="")
    result = json.loads(smoke.stdout.strip().splitlines()[-1]) if smoke.stdout.strip() else {}
    print(json.dumps(result), flush=True)
    row["served"] = (
        f"{result.get('ok', 0)}/{result.get('requests', 0)} ok, p99 {result.get('p99_ms')} ms, v{result.get('metadata_version')}"
    )

    banner(f"{project.name}: drift check (make monitor)")
    # The monitor itself, not `make monitor`: make turns its exit code 1 (drift) into 2.
    monitor = run([sys.executable, "-m", f"{package}.monitor"], project)
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


def main(names: list[str]) -> int:
    start = time.monotonic()
    rows = [demo_project(ROOT / name) for name in names]
    loop = 0
    if "spam-classifier" in names and all(r.get("status") == "ok" for r in rows if r["project"] == "spam-classifier"):
        banner("spam-classifier: the closed loop (drift -> retrain -> canary -> A/B test -> promotion)")
        loop = run([sys.executable, str(ROOT / "tools" / "demo_loop.py")], ROOT).returncode
    banner(f"summary ({time.monotonic() - start:.0f} s)")
    print(table(rows))
    print("\nMLflow UI with every run, registered model and its @champion alias:  make ui  (http://127.0.0.1:5000)")
    return 0 if loop == 0 and all(r.get("status") == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
