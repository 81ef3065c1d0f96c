"""What the API serves, without the web: the predictor protocol, how a predictor runs, and the
micro-batcher for models that score many items at about the cost of one.

A predictor (``mlcore.foundation.served.ServedPredictor``) declares ``execution``:

- ``inline`` (the default): ``predict`` runs on the event loop. Right for microsecond scorers (the
  compiled scikit-learn paths); a thread hop would cost more than the work.
- ``thread``: ``predict`` blocks (milliseconds or more), so it runs in the thread pool and the
  event loop keeps accepting requests.
- ``batch``: requests that arrive within ``batch_wait_ms`` of each other are scored together in
  one ``predict`` call (at most ``batch_max_items`` items), in a thread. Each caller gets its own
  answers; when a combined call fails, its requests are scored one by one, so an error stays
  with the request that caused it.

A predictor may also say what the prediction log keeps of each item (``log_inputs``: its drift
signals, or a hash of a large input) instead of the whole request item.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from mlcore.foundation.errors import InputError  # re-exported: the import path predictors use
from mlcore.foundation.served import EXECUTIONS, Execution
from mlcore.foundation.served import ServedPredictor as Predictor

__all__ = ["EXECUTIONS", "Execution", "InputError", "MicroBatcher", "Predictor", "execution_of", "log_inputs"]


def execution_of(predictor: Predictor) -> str:
    mode = predictor.execution
    if mode not in EXECUTIONS:
        raise ValueError(f"{type(predictor).__name__}.execution={mode!r} is not one of {', '.join(EXECUTIONS)}")
    return mode


def log_inputs(predictor: Predictor, items: Sequence[BaseModel], raw: bool = False) -> list[dict[str, Any]]:
    """What the prediction log keeps of ``items``: the predictor's choice (plus each item as sent
    when ``raw``), else each item as JSON."""
    chosen = predictor.log_inputs(items)
    if chosen is not None and not raw:
        return list(chosen)
    sent = [item.model_dump(mode="json") for item in items]
    if chosen is None:
        return sent
    return [{**item, **row} for item, row in zip(sent, chosen, strict=True)]


@dataclass
class _Pending:
    items: Sequence[Any]
    future: asyncio.Future[list[dict[str, Any]]] = field(repr=False)


class MicroBatcher:
    """Collects requests for up to ``max_wait_s`` (or ``max_items`` items) and scores them together."""

    def __init__(self, predict: Callable[[list[Any]], list[dict[str, Any]]], max_items: int, max_wait_s: float) -> None:
        if max_items < 1 or max_wait_s < 0:
            raise ValueError("serve.batch_max_items must be >= 1 and serve.batch_wait_ms >= 0")
        self.predict = predict
        self.max_items = max_items
        self.max_wait_s = max_wait_s
        self.queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        self.batches = 0  # combined predict calls so far (tests and /metrics read it)
        self.sizes: list[int] = []  # items per combined call, most recent last (bounded)

    async def submit(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        if self.worker is None:
            self.worker = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Pending(items, future))
        return await future

    async def close(self) -> None:
        """Answer what is queued, then stop."""
        if self.worker is not None:
            await self.queue.put(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self.worker
            self.worker = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self.queue.get()
            if first is None:
                return
            group, count = [first], len(first.items)
            deadline = loop.time() + self.max_wait_s
            while count < self.max_items:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    nxt = await asyncio.wait_for(self.queue.get(), timeout)
                except TimeoutError:
                    break
                if nxt is None:
                    stopping = True
                    break
                group.append(nxt)
                count += len(nxt.items)
            await self._score(group)

    async def _score(self, group: list[_Pending]) -> None:
        items = [item for pending in group for item in pending.items]
        self.batches += 1
        self.sizes = [*self.sizes[-99:], len(items)]
        try:
            answers = await asyncio.to_thread(self.predict, items)
        except Exception as exc:  # noqa: BLE001 - settle each request with its own outcome below
            if len(group) == 1:
                _settle(group[0].future, error=exc)
                return
            for pending in group:  # one request's bad input must not fail the others
                try:
                    _settle(pending.future, await asyncio.to_thread(self.predict, list(pending.items)))
                except Exception as single:  # noqa: BLE001
                    _settle(pending.future, error=single)
            return
        start = 0
        for pending in group:
            _settle(pending.future, answers[start : start + len(pending.items)])
            start += len(pending.items)


def _settle(
    future: asyncio.Future[list[dict[str, Any]]],
    answers: list[dict[str, Any]] | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():  # the caller went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(answers or [])
