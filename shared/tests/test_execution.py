"""How predictors run under the API: inline, in a thread, micro-batched; what the log keeps; the admin token."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from demo_api import Double
from fastapi.testclient import TestClient
from mlcore.foundation.io import write_json
from mlcore.foundation.waiting import wait_until
from mlcore.lifecycle.artifacts import SERVING_METADATA
from mlcore.serving.app import ServingSpec, create_app
from mlcore.serving.predictor import InputError, MicroBatcher, execution_of
from mlcore.serving.predlog import read_window
from pydantic import BaseModel


class Item(BaseModel):
    x: float


class Answer(BaseModel):
    y: float


def export(path: Path, version: str) -> None:
    write_json({"version": version}, path / SERVING_METADATA)


class Doubler(Double):
    def __init__(self, execution: str = "inline", delay: float = 0.0, gate: threading.Event | None = None) -> None:
        self.execution = execution
        self.delay = delay
        self.gate = gate  # when given, predict holds until the test opens it
        self.calls: list[int] = []

    def predict(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        self.calls.append(len(items))
        if self.gate is not None:
            self.gate.wait(60)
        time.sleep(self.delay)  # deliberate: a model that takes this long to score (0 unless a test asks)
        for i, item in enumerate(items):
            if item.x == 13:
                raise InputError(f"items.{i}.x", "13 is not scored")
        return [{"y": item.x * 2} for item in items]


def test_micro_batcher_scores_concurrent_requests_together_and_keeps_errors_apart() -> None:
    model = Doubler(delay=0.01)

    async def main() -> list[Any]:
        batcher = MicroBatcher(model.predict, max_items=64, max_wait_s=0.05)
        requests = [[Item(x=i)] for i in range(10)] + [[Item(x=13)], [Item(x=20), Item(x=21)]]
        results = await asyncio.gather(*(batcher.submit(r) for r in requests), return_exceptions=True)
        await batcher.close()
        return results

    results = asyncio.run(main())
    assert [r[0]["y"] for r in results[:10]] == [2 * i for i in range(10)]
    assert isinstance(results[10], InputError)
    assert [a["y"] for a in results[11]] == [40, 42]
    assert model.calls[0] == 13  # all twelve requests (13 items) in one call, which failed ...
    assert sorted(model.calls[1:]) == sorted([1] * 11 + [2])  # ... so each was scored alone


def test_micro_batcher_caps_items_per_call() -> None:
    model = Doubler()

    async def main() -> None:
        batcher = MicroBatcher(model.predict, max_items=4, max_wait_s=0.05)
        await asyncio.gather(*(batcher.submit([Item(x=i)]) for i in range(10)))
        await batcher.close()

    asyncio.run(main())
    assert sum(model.calls) == 10 and max(model.calls) <= 4


def test_unknown_execution_is_named() -> None:
    with pytest.raises(ValueError, match="execution='gpu' is not one of inline, thread, batch"):
        execution_of(Doubler(execution="gpu"))


def client_for(tmp_path: Path, model: Any, **kw: Any) -> TestClient:
    export(tmp_path / "export", "7")
    spec = ServingSpec(
        model_name="demo",
        item_schema=Item,
        answer_schema=Answer,
        load=lambda _: model,
        export_dir=tmp_path / "export",
        cache_dir=tmp_path / "cache",
        prefer_registry=False,
        **kw,
    )
    return TestClient(create_app(spec), raise_server_exceptions=False)


def test_batched_predictor_answers_each_caller_and_combines_calls(tmp_path: Path) -> None:
    model = Doubler(execution="batch", delay=0.02)
    with client_for(tmp_path, model, batch_wait_ms=50) as client:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda x: client.post("/predict", json={"x": x}), range(20, 36)))
        assert [a.json()["y"] for a in answers] == [2 * x for x in range(20, 36)]
        refused = client.post("/predict", json={"items": [{"x": 1}, {"x": 13}]})
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "items.1.x"
    assert sum(model.calls[:-1]) == 16 and len(model.calls) - 1 < 16  # fewer calls than requests


def metric(client: TestClient, name: str) -> float:
    """One unlabelled sample of ``/metrics``."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


def test_batch_counters_never_go_back_when_a_model_is_reloaded(tmp_path: Path) -> None:
    """A reload brings a new micro-batcher counting from 0; the process's counter keeps growing."""
    model = Doubler(execution="batch")
    with client_for(tmp_path, model, batch_wait_ms=1) as client:
        for x in range(3):
            assert client.post("/predict", json={"x": x}).status_code == 200
        before = metric(client, "predict_batches_total")
        mean = metric(client, "predict_batch_items_mean")
        assert before == 3 and mean == 1
        assert client.post("/admin/reload").status_code == 200
        assert metric(client, "predict_batches_total") == before, "the counter went back after the reload"
        assert metric(client, "predict_batch_items_mean") == mean
        assert client.post("/predict", json={"x": 9}).status_code == 200
        assert metric(client, "predict_batches_total") == before + 1


def test_thread_predictor_does_not_block_the_event_loop(tmp_path: Path) -> None:
    gate = threading.Event()
    model = Doubler(execution="thread", gate=gate)
    with client_for(tmp_path, model) as client:
        done = threading.Event()

        def slow() -> None:
            client.post("/predict", json={"x": 1})
            done.set()

        worker = threading.Thread(target=slow)
        worker.start()
        wait_until(lambda: model.calls, "the slow predict to start")
        assert client.get("/health").status_code == 200
        assert not done.is_set(), "/health waited for the slow predict"
        gate.set()
        worker.join(60)
    assert done.is_set()


class Summariser(Doubler):
    def log_inputs(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        return [{"x_bucket": int(item.x // 10)} for item in items]


def test_the_predictor_decides_what_the_log_keeps(tmp_path: Path) -> None:
    with client_for(tmp_path, Summariser(), prediction_log=tmp_path / "log.db") as client:
        client.post("/predict", json={"items": [{"x": 5}, {"x": 42}]})
    wait_until(lambda: len(read_window(tmp_path / "log.db")) >= 2, "2 row(s) in the prediction log")
    assert read_window(tmp_path / "log.db")["input"].tolist() == [{"x_bucket": 0}, {"x_bucket": 4}]


def test_reload_is_closed_off_loopback_even_without_a_configured_token(tmp_path: Path) -> None:
    with client_for(tmp_path, Doubler(), host="0.0.0.0") as client:
        assert client.post("/admin/reload").status_code == 403
        token = (tmp_path / "cache" / "admin_token").read_text().strip()
        assert len(token) >= 24 and (tmp_path / "cache" / "admin_token").stat().st_mode & 0o077 == 0
        assert client.post("/admin/reload", headers={"x-admin-token": token}).status_code == 200
    with client_for(tmp_path / "local", Doubler()) as client:  # loopback, no token: open as before
        assert client.post("/admin/reload").status_code == 200


def test_spec_from_config_reads_the_serve_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVE_ADMIN_TOKEN", "from-env")
    serve = {"max_batch": 3, "prediction_log": "logs/p.db", "batch_wait_ms": 2, "host": "0.0.0.0", "admin_token": "x"}
    spec = ServingSpec.from_config(
        serve,
        tmp_path,
        cache_dir=tmp_path / "c",
        model_name="m",
        item_schema=Item,
        answer_schema=Answer,
        load=lambda _: Doubler(),
        export_dir=tmp_path,
    )
    assert (spec.max_batch, spec.batch_wait_ms, spec.host) == (3, 2.0, "0.0.0.0")
    assert spec.prediction_log == tmp_path / "logs/p.db" and spec.admin_token == "from-env"
