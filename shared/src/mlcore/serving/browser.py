"""A real headless browser on a page the API serves, with the network closed: Debian's chromium
driven by Playwright (no browser download). Used by the tests of ``/docs`` and of upload pages."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update")


def chromium_path() -> str:
    """``$CHROMIUM``, else Debian's ``chromium`` on PATH."""
    return os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


@dataclass
class Visit:
    page: Any  # playwright.sync_api.Page
    blocked: list[str] = field(default_factory=list)  # requests to any other address, aborted
    problems: list[str] = field(default_factory=list)  # page errors and console errors


@contextmanager
def offline_page(base: str) -> Iterator[Visit]:
    """A browser page on which every request not to ``base`` (or a ``blob:`` URL) is aborted and
    recorded, and page or console errors are recorded."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if not Path(executable).exists():
        raise FileNotFoundError(f"no chromium at {executable}: `make test` installs Debian's chromium package")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=list(ARGS))
        try:
            visit = Visit(browser.new_page())

            def only_base(route: Any) -> None:
                if route.request.url.startswith((base, "blob:")):
                    route.continue_()
                else:
                    visit.blocked.append(route.request.url)
                    route.abort()

            visit.page.route("**/*", only_base)
            visit.page.on("pageerror", lambda exc: visit.problems.append(f"page error: {exc}"))
            visit.page.on(
                "console", lambda msg: visit.problems.append(f"console: {msg.text}") if msg.type == "error" else None
            )
            yield visit
        finally:
            browser.close()
