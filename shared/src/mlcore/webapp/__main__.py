"""``python -m mlcore.webapp APP.py --service URL [--serve CMD]`` (``make app``): the demo app on
127.0.0.1 against the service at URL; when nothing answers there and ``--serve`` is given, that
command starts the service first (stopped again when the app stops)."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import httpx

from mlcore.webapp.page import SERVICE_ENV
from mlcore.webapp.screenshot import streamlit_command


def answers(url: str) -> bool:
    try:
        return httpx.get(url.rstrip("/") + "/ready", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def run(cmd: list[str], env: dict[str, str]) -> int:
    """Run the app until it exits or this process is stopped (Ctrl-C or SIGTERM), then stop it."""
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    cli.add_argument("app", type=Path, help="the project's app.py")
    cli.add_argument("--service", default="http://127.0.0.1:8000")
    cli.add_argument("--serve", default=None, help="command that starts the service when it is down")
    cli.add_argument("--port", type=int, default=int(os.environ.get("APP_PORT", "8501")))
    args = cli.parse_args(argv)
    from mlcore.serving.smoke import running_server

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop the app and the service

    streamlit = streamlit_command(args.app, args.port)
    env = {**os.environ, SERVICE_ENV: args.service}
    print(f"[app] http://127.0.0.1:{args.port} against {args.service}", flush=True)
    up = answers(args.service)
    if up or not args.serve:
        if not up:
            print(f"[app] no service answers at {args.service} yet: the page says so until one does", flush=True)
        return run(streamlit, env)
    port = urlparse(args.service).port or 80
    print(f"[app] starting the service: {args.serve}", flush=True)
    with running_server(shlex.split(args.serve), port, cwd=Path.cwd(), timeout=300):
        return run(streamlit, env)  # the service is stopped on the way out, however the app ends


if __name__ == "__main__":
    raise SystemExit(main())
