"""``python -m mlcore.ui``: the MLflow UI over the tracking store, on 127.0.0.1, one worker."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mlcore.foundation.paths import project_root
from mlcore.foundation.redact import mask_credentials
from mlcore.lifecycle import tracking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("MLFLOW_UI_PORT", "5000")))
    parser.add_argument("--root", default=None, help="project or suite folder (default: the current project)")
    args = parser.parse_args(argv)
    try:
        root = Path(args.root) if args.root else project_root()
    except FileNotFoundError:
        root = Path.cwd()
    uri = tracking.tracking_uri(root)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        "1",
    ]
    if not tracking.user_tracking_uri():
        cmd += ["--default-artifact-root", tracking.artifact_root(root).as_uri()]
    print(f"MLflow UI on http://127.0.0.1:{args.port} (store: {mask_credentials(uri)})", flush=True)
    os.execvpe(cmd[0], cmd, env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
