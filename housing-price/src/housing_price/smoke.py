"""Served-model check (part of `make demo`): start the API, send real requests, stop it.

Template-owned: edit templates/ml-project, then `make sync`.

``python -m housing_price.smoke [--requests 200]`` sends rows of the test split
as requests to a fresh server on 127.0.0.1, so the traffic lands in the prediction log for
`make monitor`, and prints one JSON line with the outcome.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import pandas as pd
from mlcore.data.stages import split_path
from mlcore.foundation.config import load_params
from mlcore.serving.smoke import free_port, running_server, send

from . import PROJECT_ROOT
from .predictor import SERVED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    raise SystemExit(main())
