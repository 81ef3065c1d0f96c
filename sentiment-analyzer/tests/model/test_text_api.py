"""What the API promises for texts: 422 naming the field for empty, whitespace-only, too long or
invalid UTF-8 text; truncation reported; concurrent requests scored together; the prediction log
keeps signals, not the text, unless asked."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from sentiment_analyzer.schemas import MAX_CHARS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   \n\t "}, "text"),
        ({"text": "\u200b\u200d\ufeff"}, "text"),  # zero-width only: nothing to read
        ({"text": "x" * (MAX_CHARS + 1)}, "text"),
        ({"items": [{"text": "fine"}, {"text": " "}]}, "items.1.text"),
        ({"text": 42}, "text"),
    ],
)
def test_unusable_text_is_422_naming_the_field(server: str, body: dict[str, Any], field: str) -> None:
    response = httpx.post(f"{server}/predict", json=body)
    assert response.status_code == 422, response.text
    assert field in response.text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"text": "caf\xe9 au lait"}',  # Latin-1 byte: not UTF-8
        b'{"text": "half a surrogate \\ud800 here"}',  # valid JSON, not encodable text
    ],
)
def test_invalid_utf8_is_422_and_the_server_keeps_serving(server: str, raw: bytes) -> None:
    response = httpx.post(f"{server}/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert httpx.post(f"{server}/predict", json={"text": "Still here, still good."}).status_code == 200


def test_long_text_is_answered_and_flagged_truncated(server: str) -> None:
    short = httpx.post(f"{server}/predict", json={"text": "A warm, funny film."}).json()
    long = httpx.post(f"{server}/predict", json={"text": "A warm, funny film. " * 60}).json()
    assert short["truncated"] is False and long["truncated"] is True
    assert long["label"] in ("negative", "positive") and 0.5 <= long["probability"] <= 1


def test_concurrent_requests_are_scored_together(server: str) -> None:
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server, timeout=30) as client:
            texts = [f"Review number {i}: {'great' if i % 2 else 'awful'} film." for i in range(48)]
            return await asyncio.gather(*(client.post("/predict", json={"text": t}) for t in texts))

    before = httpx.get(f"{server}/metrics").text
    responses = asyncio.run(burst())
    assert all(r.status_code == 200 for r in responses)
    assert {r.json()["label"] for r in responses} <= {"negative", "positive"}
    after = httpx.get(f"{server}/metrics").text
    assert batches(after) - batches(before) < 48, "every request was scored alone"


def batches(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("predict_batches_total"):
            return float(line.split()[-1])
    raise AssertionError("predict_batches_total is not in /metrics")


def test_the_log_keeps_signals_not_the_text_unless_asked(trained: dict[str, Any], tmp_path: Path) -> None:
    from mlcore.serving.smoke import free_port, running_server

    root = Path(trained["root"])
    secret = "Jane Roe of 12 Elm Street loved this film"
    for raw in (False, True):
        log = tmp_path / f"log-{raw}.db"
        port = free_port()
        api = "sentiment_analyzer.api"
        cmd = [sys.executable, "-m", api, f"serve.port={port}", "serve.host=127.0.0.1"]
        cmd += [f"serve.prediction_log={log}", f"serve.log_raw_inputs={str(raw).lower()}"]
        env = {
            "ML_PROJECT_ROOT": str(root),
            "ML_STORE_ROOT": str(root),
            "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
        }
        with running_server(cmd, port, cwd=root, env=env) as (base, _):
            assert httpx.post(f"{base}/predict", json={"text": secret}).status_code == 200
        with sqlite3.connect(log) as db:
            text = " ".join(row[0] for row in db.execute("select input from predictions"))
        assert text, "nothing logged"
        assert '"tokens"' in text and '"embedding_0"' in text
        assert (secret in text) is raw
