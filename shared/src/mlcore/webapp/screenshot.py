"""``python -m mlcore.webapp.screenshot APP.py --out docs/app.png --serve CMD`` (``make
app-screenshot``): the demo app in headless Chromium after one prediction of the service's own
example, saved as a PNG; the page must show the prediction. The tests call ``capture``."""

from __future__ import annotations

import argparse
import base64
import os
import shlex
import sys
from contextlib import ExitStack
from pathlib import Path

from mlcore.webapp.contract import UPLOAD
from mlcore.webapp.page import SERVICE_ENV


def streamlit_command(app: Path, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def capture(app: Path, service: str, out: Path, upload: bytes | None = None, timeout_ms: float = 60_000) -> str:
    """Run the app against ``service``, predict its example in Chromium, screenshot the page to
    ``out``; return the prediction line the page shows (``RuntimeError`` with what the page said
    when it shows none). ``upload``: the file to send where the service takes files (default: the
    request schema's example)."""
    from mlcore.serving.browser import offline_page
    from mlcore.serving.smoke import free_port, running_server
    from mlcore.webapp.client import Service

    contract = Service(service).contract()
    port = free_port()
    env = {SERVICE_ENV: service}
    server = running_server(streamlit_command(app, port), port, cwd=app.parent, env=env, ready_path="/_stcore/health")
    with server as (base, _), offline_page(base) as visit:
        page = visit.page
        page.set_viewport_size({"width": 1280, "height": 1500})
        page.goto(base, wait_until="domcontentloaded")
        page.get_by_role("button", name="Predict").wait_for(timeout=timeout_ms)
        if contract.kind == UPLOAD:
            field = next(iter(contract.example))
            upload = {
                "name": "example.png",
                "mimeType": "image/png",
                "buffer": upload if upload is not None else base64.b64decode(contract.example[field]),
            }
            page.locator("input[type=file]").set_input_files(upload)
            page.get_by_text("example.png").wait_for(timeout=timeout_ms)
        page.get_by_role("button", name="Predict").click()
        headline = page.get_by_text("Prediction:")
        try:
            headline.first.wait_for(timeout=timeout_ms)
        except Exception:
            raise RuntimeError(f"no prediction on the page: {page.inner_text('body')[:600]}") from None
        if contract.feedback is not None:
            last = "Did not respond" if contract.feedback[1] == "boolean" else "Wrong: send the true one"
            page.get_by_role("button", name=last).wait_for(timeout=timeout_ms)
        page.locator("[data-testid=stSkeleton]").first.wait_for(state="detached", timeout=timeout_ms)
        page.wait_for_timeout(1500)  # charts draw after the script ends (Vega): no event marks the end
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        return headline.first.inner_text()


def first_test_upload(home: str) -> bytes | None:
    """The project's first test item's file, where its model takes files (run in the project)."""
    import pandas as pd

    from mlcore.data.stages import split_path
    from mlcore.foundation.config import load_params
    from mlcore.foundation.served import served_at

    served = served_at(home)
    if served.upload_field is None:
        return None
    test = pd.read_parquet(split_path(load_params(), Path.cwd(), "test"))
    return base64.b64decode(served.request_items(test.head(1))[0][served.upload_field])


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    cli.add_argument("app", type=Path)
    cli.add_argument("--out", type=Path, default=Path("docs/app.png"))
    cli.add_argument("--serve", required=True, help="command that starts the service; {port} is filled in")
    cli.add_argument("--served", default=None, help="module:SERVED: upload its first test item (file-taking models)")
    args = cli.parse_args(argv)
    upload = first_test_upload(args.served) if args.served else None
    from mlcore.serving.smoke import free_port, running_server

    port = free_port()
    with ExitStack() as stack:
        base, _ = stack.enter_context(
            running_server(shlex.split(args.serve.format(port=port)), port, cwd=Path.cwd(), env=dict(os.environ))
        )
        line = capture(args.app.resolve(), base, args.out, upload)
    print(f"[app] {args.out}: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
