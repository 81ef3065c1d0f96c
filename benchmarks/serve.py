"""Serving benchmark: a project's API on 127.0.0.1 under wrk, single-item POST /predict, side by
side in one run with a bare FastAPI endpoint that returns a constant (the ceiling), and optionally
with the same project served by an earlier commit of the suite (``--before <git ref>``).

    python benchmarks/serve.py spam-classifier [--workers 1 2] [--seconds 15] [--connections 32]
    python benchmarks/serve.py spam-classifier --before ace6b4f
      (the virtualenv must also hold what that commit imports, e.g. prometheus-fastapi-instrumentator for ace6b4f)
    python benchmarks/serve.py customer-segmentation --items transaction_items
    python benchmarks/serve.py image-classifier --workers 1 --naive-torch
    python benchmarks/serve.py sentiment-analyzer --workers 1 --naive-torch

``--naive-torch`` (networks): also serve the same model the naive way, side by side: a FastAPI
endpoint running the torch network eagerly, one item per forward pass, no batching (images:
decode + forward; texts: transformers' tokenizer + forward + softmax per request, what a
transformers ``pipeline`` does per call, without its own overhead).

The server runs as `make serve` runs it (prediction log on). Request bodies cycle through rows
of the project's test split (``predictor.SERVED.request_items``), or through what the project's
``predictor.<items>(project_root, cfg, 200)`` returns. The load generator (wrk, one thread) shares
the machine with the server. Figures, with the resident memory of the server and of each worker
and the share of the bare endpoint's throughput, go to benchmarks/results/<project>.json
(``<project>.<items>.json`` with ``--items``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))


def rss_by_process(pid: int) -> dict[int, float]:
    """Resident memory (MiB) of ``pid`` and of each of its children (uvicorn workers)."""
    pids = [pid] + [
        int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    out = {}
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            match = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
            out[p] = round(int(match.group(1)) / 1024, 1) if match else 0.0
    return out


BARE_APP = """
from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/ready")
async def ready() -> dict:
    return {"status": "ready"}


@app.post("/predict")
async def predict(request: Request) -> dict:
    await request.body()
    return {"label": "constant"}
"""


NAIVE_TORCH_APP = """
import base64

import torch
from fastapi import FastAPI
from mlcore.lifecycle.flavors import load_native
from mlcore.lifecycle.artifacts import logged_metadata
from {package}.features import decode, normalise, softmax, to_canonical, top_k
from {package}.predictor import MAX_PIXELS
from {package}.schemas import Item

torch.set_num_threads({threads})
net = load_native("{model_dir}")
meta = logged_metadata("{model_dir}")
app = FastAPI()


@app.get("/ready")
def ready() -> dict:
    return {{"status": "ready"}}


@app.post("/predict")
def predict(item: Item) -> dict:
    image = to_canonical(decode(base64.b64decode(item.image), MAX_PIXELS), meta["height"], meta["width"])
    with torch.no_grad():
        logits, _ = net(torch.from_numpy(normalise(image[None])))
    top = top_k(softmax(logits.numpy()), meta["labels"])[0]
    return {{"label": top[0]["label"], "probability": top[0]["probability"], "top": top}}
"""


NAIVE_TEXT_APP = """
import json

import torch
from fastapi import FastAPI
from mlcore.lifecycle.artifacts import extra_path, logged_metadata
from mlcore.lifecycle.flavors import load_native
from transformers import PreTrainedTokenizerFast
from {package}.predictor import TOKENIZER_FILE
from {package}.schemas import Item

torch.set_num_threads({threads})
net = load_native("{model_dir}")
meta = logged_metadata("{model_dir}")
tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(extra_path("{model_dir}", TOKENIZER_FILE + ".json")))
tokenizer.pad_token = "[PAD]"
app = FastAPI()


@app.get("/ready")
def ready() -> dict:
    return {{"status": "ready"}}


@app.post("/predict")
def predict(item: Item) -> dict:
    enc = tokenizer(item.text, truncation=True, max_length=meta["max_length"], return_tensors="pt")
    with torch.no_grad():
        logits, _ = net(enc["input_ids"], enc["attention_mask"])
    p = torch.softmax(logits, 1)[0]
    best = int(p.argmax())
    return {{"label": meta["labels"][best], "probability": round(float(p[best]), 6)}}
"""
NAIVE_APPS = {"image_classification": NAIVE_TORCH_APP, "text_transformer_classification": NAIVE_TEXT_APP}


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


def request_bodies(project: Path, items: str | None) -> list[str]:
    from mlcore.foundation.config import load_params

    package = package_of(project)
    sys.path.insert(0, str(project / "src"))
    predictor = importlib.import_module(f"{package}.predictor")  # the project named on the command line
    cfg = load_params(project / "params.yaml")
    test = pd.read_parquet(project / cfg.paths.processed / "test.parquet")
    chosen = getattr(predictor, items)(project, cfg, 200) if items else predictor.SERVED.request_items(test.head(200))
    return [json.dumps(item) for item in chosen]


def package_of(project: Path) -> str:
    return json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]["package_name"]


def task_type_of(project: Path) -> str:
    return json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]["task_type"]


def load(
    cmd: list[str], port: int, cwd: Path, env: dict[str, str], workers: int, script: str, seconds: int, connections: int
) -> dict[str, Any]:
    """Start ``cmd`` (serving on ``port``), warm it, load it with wrk, measure its memory, stop it."""
    from mlcore.serving.smoke import running_server

    with running_server(cmd, port, cwd=cwd, env=env, timeout=120) as (base, proc):
        figures = measure(base, workers, script, seconds, connections)
        memory = rss_by_process(proc.pid)
    served = [mib for pid, mib in memory.items() if pid != proc.pid] if workers > 1 else list(memory.values())
    return {**figures, "server_rss_mib": round(sum(memory.values()), 1), "worker_rss_mib": max(served)}


def measure(base: str, workers: int, script: str, seconds: int, connections: int) -> dict[str, float]:
    """Warm a ready server for 3 s, then load it with wrk for ``seconds``: throughput and latency."""
    time.sleep(1.0 if workers == 1 else 3.0)  # a benchmark's settling time, not synchronisation
    for cmd in (
        ["wrk", "-t1", f"-c{connections}", "-d3s", "-s", script, base],
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, base],
    ):
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise RuntimeError(f"wrk against {base} exited {run.returncode}: {run.stdout[-800:]} {run.stderr[-800:]}")
    return parse_wrk(run.stdout)


def bench(
    project: Path,
    workers: int,
    seconds: int,
    connections: int,
    items: str | None = None,
    before: Path | None = None,
    naive_torch: bool = False,
) -> dict[str, object]:
    from mlcore.serving.smoke import free_port

    package = package_of(project)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bodies.lua"
        script.write_text(lua_script(request_bodies(project, items)))
        (Path(tmp) / "bare_app.py").write_text(BARE_APP)
        args = (workers, str(script), seconds, connections)
        port = free_port()
        bare_cmd = [sys.executable, "-m", "uvicorn", "bare_app:app", "--workers", str(workers)]
        bare_cmd += ["--log-level", "warning", "--no-access-log", "--host", "127.0.0.1", "--port", str(port)]
        bare = load(bare_cmd, port, Path(tmp), {"PYTHONPATH": tmp}, *args)

        def api(root: Path, extra_path: str = "") -> dict[str, Any]:
            port = free_port()
            cmd = [sys.executable, "-m", f"{package}.api", f"serve.workers={workers}", "serve.log_level=warning"]
            env = {"PYTHONPATH": f"{root / 'src'}{extra_path}"}
            return load([*cmd, f"serve.port={port}"], port, root, env, *args)

        served = api(project)
        old = api(before / project.name, f":{before / 'shared' / 'src'}") if before else None
        naive = None
        if naive_torch:
            port = free_port()
            model_dir = project / "models" / "champion"
            (Path(tmp) / "naive_app.py").write_text(
                NAIVE_APPS[task_type_of(project)].format(package=package, model_dir=model_dir, threads=2)
            )
            cmd = [sys.executable, "-m", "uvicorn", "naive_app:app", "--workers", str(workers)]
            cmd += ["--log-level", "warning", "--no-access-log", "--host", "127.0.0.1", "--port", str(port)]
            naive = load(cmd, port, Path(tmp), {"PYTHONPATH": f"{tmp}:{project / 'src'}"}, *args)
    share = lambda r: round(r["requests_per_s"] / bare["requests_per_s"], 3)  # noqa: E731
    return {
        "project": project.name,
        "endpoint": "POST /predict (one item)",
        "items": items or "request_items",
        "workers": workers,
        "connections": connections,
        "seconds": seconds,
        **served,
        "share_of_bare": share(served),
        "bare_endpoint": bare,
        **({"before": {**old, "share_of_bare": share(old)}} if old else {}),
        **(
            {"naive_torch": naive, "speedup_over_naive": round(served["requests_per_s"] / naive["requests_per_s"], 2)}
            if naive
            else {}
        ),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "load_generator": "wrk 1 thread, same machine",
        "date": time.strftime("%Y-%m-%d"),
    }


@contextmanager
def checkout(ref: str | None, projects: list[str]) -> Iterator[Path | None]:
    """The suite at ``ref`` (a git worktree) with each project's exported model and test split
    copied in, so the earlier code serves the same model; None without a ref."""
    if ref is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp) / "suite"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(where), ref], cwd=ROOT, check=True)
        try:
            for name in projects:
                for rel in ("models/champion", "data/processed"):
                    shutil.copytree(ROOT / name / rel, where / name / rel, dirs_exist_ok=True)
            yield where
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="+")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--items", help="a function of the project's predictor module that returns request items")
    parser.add_argument("--before", help="git ref of the suite to measure side by side (same model, same run)")
    parser.add_argument("--naive-torch", action="store_true", help="also the naive torch handler (networks)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    with checkout(args.before, args.projects) as before:
        for name in args.projects:
            results = [
                bench(ROOT / name, w, args.seconds, args.connections, args.items, before, args.naive_torch)
                for w in args.workers
            ]
            if before is not None:
                for r in results:
                    r["before"]["ref"] = args.before
            out = ROOT / "benchmarks" / "results" / (f"{name}.{args.items}.json" if args.items else f"{name}.json")
            out.write_text(json.dumps(results, indent=2) + "\n")
            for r in results:
                rows = [("now", r), ("bare", r["bare_endpoint"])] + ([("before", r["before"])] if "before" in r else [])
                rows += [("naive torch", r["naive_torch"])] if "naive_torch" in r else []
                for label, f in rows:
                    print(
                        f"{name} {label}: {r['workers']} worker(s): {f['requests_per_s']:.0f} req/s, "
                        f"p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, {f['non_2xx']} non-2xx, "
                        f"RSS {f['server_rss_mib']} MiB ({f['worker_rss_mib']} MiB per worker)"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
