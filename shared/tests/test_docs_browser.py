"""/docs in a real headless browser (Debian's chromium driven by Playwright) with the network blocked.

The app runs under uvicorn on 127.0.0.1; every request the page makes to any other address is
aborted and recorded. The page must render the predict operation and its schemas with no error,
no unresolved reference and no request leaving the machine.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from demo_api import Double
from mlcore.foundation.waiting import wait_until
from mlcore.lifecycle.artifacts import SERVING_METADATA
from mlcore.serving.app import ServingSpec, create_app
from mlcore.serving.browser import offline_page
from mlcore.serving.smoke import free_port
from pydantic import BaseModel, ConfigDict, Field

pytestmark = pytest.mark.slow


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "hello"}]})
    text: str = Field(min_length=1, description="Some text.")


class Answer(BaseModel):
    length: int


class Counter(Double):
    def predict(self, items: list[Item]) -> list[dict[str, int]]:
        return [{"length": len(item.text)} for item in items]


SHOTS = Path(os.environ.get("DOCS_SCREENSHOT_DIR", "")) if os.environ.get("DOCS_SCREENSHOT_DIR") else None


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    tmp = tmp_path_factory.mktemp("docs")
    (tmp / "export").mkdir()
    (tmp / "export" / SERVING_METADATA).write_text(json.dumps({"version": "1"}))
    spec = ServingSpec(
        model_name="demo",
        item_schema=Item,
        answer_schema=Answer,
        load=lambda _: Counter(),
        export_dir=tmp / "export",
        cache_dir=tmp / "cache",
        prefer_registry=False,
        title="Docs check",
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(spec), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: httpx.get(f"{url}/ready", timeout=5).status_code == 200,
        "the docs server to be ready",
        retry_on=(httpx.TransportError,),
    )
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_docs_render_offline_with_the_predict_operation(base: str) -> None:
    with offline_page(base) as visit:
        page = visit.page
        page.goto(f"{base}/docs", wait_until="networkidle")
        operation = page.locator(".opblock-post:has-text('/predict')")
        operation.first.wait_for(timeout=60_000)
        operation.first.locator(".opblock-summary").click()
        page.locator(".opblock-body").first.wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        text = page.inner_text("body")
        if SHOTS is not None:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "docs.png"), full_page=True)
    assert "Could not resolve reference" not in text
    assert "Failed to load API definition" not in text
    assert "Predict one item" in text
    for name in ("Item", "PredictBatch", "Prediction", "PredictionBatch", "ErrorBody"):
        assert name in text, f"schema {name} not shown"
    assert not visit.problems, visit.problems
    assert not visit.blocked, f"the page asked for outside addresses: {visit.blocked}"
