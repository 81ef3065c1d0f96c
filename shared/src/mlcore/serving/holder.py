"""The served model: ``Loaded`` (a predictor with its metadata and batcher) and ``ModelHolder``,
which loads it at start, swaps it on reload, keeps the challenger, and switches to the registry's
champion once the registry answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.concurrency import run_in_threadpool

from mlcore import fastpath
from mlcore.foundation.redact import mask_credentials
from mlcore.lifecycle import registry
from mlcore.serving.predictor import MicroBatcher, Predictor, execution_of
from mlcore.serving.spec import ServingSpec

log = logging.getLogger("mlcore.serving.app")


@dataclass
class Loaded:
    predictor: Predictor
    metadata: dict[str, Any]
    batcher: MicroBatcher | None = None  # for predictors with execution = "batch"
    fastpath: fastpath.Status | None = None  # compiled fast path or native model (None: not a FastModel predictor)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    async def answer(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Score ``items`` the way the predictor declares (inline, in a thread, or micro-batched)."""
        mode = execution_of(self.predictor)
        if mode == "inline":
            return self.predictor.predict(items)
        if mode == "thread":
            return await run_in_threadpool(self.predictor.predict, items)
        assert self.batcher is not None
        return await self.batcher.submit(items)

    async def explain(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Answers with explanations: inline for inline predictors, else in the thread pool."""
        if execution_of(self.predictor) == "inline":
            return self.predictor.explain(items)
        return await run_in_threadpool(self.predictor.explain, items)


class ModelHolder:
    """The served model and why there is none: loaded at start, swapped by reload, and switched to
    the registry's champion once the registry answers when start-up had to use the local export."""

    def __init__(self, spec: ServingSpec, on_install: Callable[[Loaded | None, Loaded], None]) -> None:
        self.spec = spec
        self.current: Loaded | None = None
        self.error: str | None = "still loading"
        self.lock = asyncio.Lock()
        self.on_install = on_install
        self._retry: asyncio.Task[None] | None = None
        self.challenger: Loaded | None = None
        self.challenger_error: str | None = None

    @property
    def challenger_cache(self) -> Path:
        return self.spec.cache_dir.with_name(self.spec.cache_dir.name + "-challenger")

    def load_challenger(self) -> Loaded:
        """``@challenger`` from the registry (or ``challenger_export`` without one)."""
        spec = self.spec
        if spec.prefer_registry:
            from mlcore.lifecycle.aliases import CHALLENGER

            resolved = registry.fetch_champion(
                spec.model_name, self.challenger_cache, spec.tracking_uri, spec.registry_timeout_s, alias=CHALLENGER
            )
            resolved.metadata = {**resolved.metadata, "served_from": registry.REGISTRY}
        elif spec.challenger_export is not None:
            resolved = registry.load_export(spec.challenger_export)
        else:
            raise registry.ModelUnavailable(
                "no challenger: serve.prefer_registry is off and no challenger export is set"
            )
        return self._build(resolved)

    async def load_challenger_now(self) -> bool:
        """Load (or re-load) the challenger; False with ``challenger_error`` set when there is none."""
        try:
            loaded = await run_in_threadpool(self.load_challenger)
        except Exception as exc:  # noqa: BLE001 - the champion keeps serving
            self.challenger_error = failure_message(exc)
            log.warning("no challenger loaded", extra={"reason": failure_detail(exc)})
            return False
        previous, self.challenger, self.challenger_error = self.challenger, loaded, None
        log.info("challenger loaded", extra={"version": loaded.version})
        if previous is not None and previous.batcher is not None:
            await previous.batcher.close()
        return True

    def load(self) -> Loaded:
        spec = self.spec
        resolved = registry.resolve(
            spec.model_name,
            spec.export_dir,
            spec.cache_dir,
            spec.prefer_registry,
            spec.tracking_uri,
            spec.registry_timeout_s,
        )
        return self._build(resolved)

    def load_champion(self) -> Loaded:
        """The registry's champion only (no fallback): raises ``RegistryUnavailable``."""
        spec = self.spec
        resolved = registry.fetch_champion(spec.model_name, spec.cache_dir, spec.tracking_uri, spec.registry_timeout_s)
        resolved.metadata = {**resolved.metadata, "served_from": registry.REGISTRY}
        return self._build(resolved)

    def _build(self, resolved: registry.ResolvedModel) -> Loaded:
        spec = self.spec
        predictor = spec.load(resolved.path)
        status = fastpath.verify(predictor, resolved.path, spec.item_schema)  # parity on the input example
        batcher = None
        if execution_of(predictor) == "batch":
            batcher = MicroBatcher(predictor.predict, spec.batch_max_items, spec.batch_wait_ms / 1000)
        return Loaded(predictor=predictor, metadata=resolved.metadata, batcher=batcher, fastpath=status)

    async def install(self, loaded: Loaded) -> Loaded | None:
        previous, self.current, self.error = self.current, loaded, None
        self.on_install(previous, loaded)
        if previous is not None and previous.batcher is not None:
            await previous.batcher.close()  # requests already queued finish on the old model
        return previous

    async def start(self) -> None:
        try:
            await self.install(await run_in_threadpool(self.load))
        except Exception as exc:  # noqa: BLE001 - serve 503s rather than die
            self.error = failure_message(exc)
            log.error("no model loaded", extra={"reason": failure_detail(exc)})
        if self.spec.prefer_registry and (self.current is None or self.current.metadata.get("registry")):
            self._retry = asyncio.create_task(self._retry_registry())

    async def _retry_registry(self) -> None:
        """Ask the registry again every ``registry_retry_s`` until it gives the champion; serve it."""
        while True:
            await asyncio.sleep(self.spec.registry_retry_s)
            async with self.lock:
                try:
                    loaded = await run_in_threadpool(self.load_champion)
                except Exception as exc:  # noqa: BLE001 - keep serving what we have, try again later
                    log.warning("registry still unavailable", extra={"reason": failure_detail(exc)})
                    continue
                await self.install(loaded)
                log.info("registry answered: serving its champion", extra={"version": loaded.version})
                return

    async def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        for loaded in (self.current, self.challenger):
            if loaded is not None and loaded.batcher is not None:
                await loaded.batcher.close()

    def unavailable(self) -> str:
        return self.error or "still loading"


def failure_message(exc: BaseException) -> str:
    """Why no model could be loaded, for clients: no paths, no credentials (the log has those)."""
    if isinstance(exc, registry.ModelUnavailable):
        return str(exc)
    return f"the model could not be loaded ({type(exc).__name__}); the server log says why"


def failure_detail(exc: BaseException) -> str:
    if isinstance(exc, registry.ModelUnavailable):
        return exc.detail[:500]
    return mask_credentials(f"{type(exc).__name__}: {exc}")[:500]


class ModelVersionHeader:
    """Pure ASGI middleware: every HTTP response names the model version."""

    def __init__(self, app: Any, holder: ModelHolder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if not any(name == b"x-model-version" for name, _ in headers):  # the arm that answered set it
                    loaded = self.holder.current
                    version = loaded.version if loaded else "none"
                    message["headers"] = [*headers, (b"x-model-version", version.encode())]
            await send(message)

        await self.app(scope, receive, send_with_header)
