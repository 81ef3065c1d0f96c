"""Served-model check (part of `make demo`): start the API, send real requests, stop it.

Template-owned: edit templates/ml-project, then `make sync`.

``python -m customer_segmentation.smoke [--requests 200]`` sends rows of the test split
as requests to a fresh server on 127.0.0.1, so the traffic lands in the prediction log for
`make monitor`, and prints one JSON line with the outcome.

``python -m customer_segmentation.smoke --url URL [--version N]`` checks a deployed service
instead (the CD workflow's smoke test after a rollout): the request schema's examples, repeated,
and, with ``--version``, that every answer came from that model version. Exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import httpx
import pandas as pd
from mlcore.data.stages import split_path
from mlcore.foundation.config import load_params
from mlcore.serving.smoke import free_port, running_server, send

from . import PROJECT_ROOT
from .predictor import SERVED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--url", help="a running service to check (base URL) instead of a fresh local one")
    parser.add_argument("--version", help="with --url: the model version every answer must come from")
    args = parser.parse_args(argv)
    if args.url:
        return check_deployed(args.url.rstrip("/"), args.requests, args.version)
    cfg = load_params(PROJECT_ROOT / "params.yaml")
    test = pd.read_parquet(split_path(cfg, PROJECT_ROOT, "test"))
    items = SERVED.request_items(test.head(args.requests))
    port = free_port()
    cmd = [sys.executable, "-m", f"{__package__}.api", f"serve.port={port}", "serve.host=127.0.0.1"]
    env = {"PYTHONPATH": str(PROJECT_ROOT / "src"), "ML_PROJECT_ROOT": str(PROJECT_ROOT)}
    with running_server(
        cmd, port, cwd=PROJECT_ROOT, env={**env, **{k: v for k, v in os.environ.items() if k.startswith("ML")}}
    ) as (base, _):
        result = send(base, items)
    print(json.dumps(result))
    return 0 if result["errors"] == 0 and result["ok"] == len(items) else 1


def check_deployed(base: str, requests: int, version: str | None) -> int:
    from .schemas import Item

    examples = Item.model_config["json_schema_extra"]["examples"]
    try:
        result = send(base, [examples[i % len(examples)] for i in range(requests)])
    except httpx.HTTPError as exc:
        print(json.dumps({"url": base, "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    wrong = version is not None and result["model_versions"] != [version]
    print(json.dumps({"url": base, **result, **({"expected_version": version} if version else {})}))
    return 0 if result["errors"] == 0 and result["ok"] == requests and not wrong else 1


if __name__ == "__main__":
    raise SystemExit(main())
