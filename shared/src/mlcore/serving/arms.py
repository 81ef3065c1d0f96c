"""The champion/challenger runtime of the API: which model answers, shadow copies, guard rails,
per-arm metrics, feedback and the experiment record. The endpoints that drive them
(``POST /feedback``, ``GET /rollout``, ``POST /admin/rollout``) are ``mlcore.serving.routes.rollout``.

The routing decisions are ``mlcore.serving.rollout`` (pure); the test's statistics are
``mlcore.monitoring.abtest``, read from the prediction log's database. Every worker of a
multi-worker server shares that database, and the newest row of its ``experiments`` table is the
mode they all follow: a switch (``POST /admin/rollout`` reaches one worker) or a guard rail
tripped in one worker reaches the others within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from fastapi.concurrency import run_in_threadpool
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mlcore.lifecycle.aliases import CHALLENGER, CHAMPION
from mlcore.serving.errors import Unavailable, item_rule_error
from mlcore.serving.feedback import FeedbackStore
from mlcore.serving.predictor import InputError, log_inputs
from mlcore.serving.predlog import LogBehind
from mlcore.serving.rollout import SHADOW, RolloutSettings, Router
from mlcore.serving.traffic import TrafficMetrics

log = logging.getLogger("mlcore.serving.arms")
BANDIT_REFRESH_S = 2.0  # how often the bandit's share follows the feedback
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


@dataclass
class Scored:
    loaded: Any  # the Loaded model that answered
    outputs: list[dict[str, Any]]
    arm: str
    request_id: str


class Arms:
    """Champion and challenger of one server process."""

    def __init__(
        self,
        settings: RolloutSettings,
        holder: Any,  # ModelHolder: .current, .challenger, .load_challenger()
        metrics: CollectorRegistry,
        model_name: str,
        feedback_kind: str | None,
        tracking_uri: str | None,
        log_raw_inputs: bool,
    ) -> None:
        self.settings = settings
        self.router = Router(settings)
        self.holder = holder
        self.model_name = model_name
        self.feedback_kind = feedback_kind
        self.tracking_uri = tracking_uri
        self.log_raw_inputs = log_raw_inputs
        self.predlog: Any = None  # PredictionLog, set at start-up
        self.store: FeedbackStore | None = None
        self._shadows: set[asyncio.Task[None]] = set()
        labels = ("arm", "version")
        self.requests = Counter(
            "rollout_requests_total", "Requests scored per arm and version", labels, registry=metrics
        )
        self.errors = Counter("rollout_errors_total", "Scoring errors per arm and version", labels, registry=metrics)
        self.latency = Histogram(
            "rollout_latency_seconds", "Scoring latency per arm", ["arm"], buckets=LATENCY_BUCKETS, registry=metrics
        )
        self.shadow_skipped = Counter(
            "rollout_shadow_skipped_total", "Shadow copies skipped (too many in flight)", registry=metrics
        )
        self.mode_gauge = Gauge("rollout_mode", "1 for the current mode", ["mode"], registry=metrics)
        self.share_gauge = Gauge(
            "rollout_challenger_share", "Share of requests the challenger answers", registry=metrics
        )
        self.guard_gauge = Gauge(
            "rollout_guard_rail_tripped", "1 when the guard rail cut the challenger off", registry=metrics
        )
        self.feedback_total = Counter(
            "feedback_total", "Feedback stored per model version", ["version"], registry=metrics
        )
        self.online = Gauge(
            "online_metric", "Online metric per model version (from feedback)", ["version", "metric"], registry=metrics
        )
        self.traffic = TrafficMetrics(metrics)
        self._online_at = 0.0
        self._seen: int | None = None  # the newest experiment this process follows
        self._follower: asyncio.Task[None] | None = None
        self.follow_rounds = 0  # reads of the shared experiment so far (what a test waits on)
        self._bandit_at = 0.0
        self._show_mode()

    # -- life cycle -------------------------------------------------------------------------------
    def open(self, predlog: Any) -> None:
        self.predlog = predlog
        if predlog is not None:
            self.store = FeedbackStore(predlog.path)

    async def start(self) -> None:
        """Load the challenger when the configured mode needs one (else stay on the champion).

        The configured mode wins over what an earlier server left in the database: started in
        ``champion`` mode, a server ends an experiment still open there (a killed server's)."""
        if self.router.mode == "champion" and self.store is not None:
            self._end_experiment("a server started in champion mode")
        if self.router.mode != "champion":
            mode = self.router.mode
            if await self.ensure_challenger():
                self._begin_experiment()
            else:
                self.router.cut(f"no challenger: {self.holder.challenger_error}")
                log.warning("rollout mode needs a challenger; serving the champion only", extra={"mode": mode})
            self._show_mode()
        if self.store is not None and self.feedback_kind is not None:
            self._follower = asyncio.create_task(self._follow())

    async def _follow(self, every: float = 1.0) -> None:
        """Follow the newest experiment of the shared database: a mode switched, or a guard rail
        tripped, by another worker of this server reaches this one within ``every`` seconds."""
        assert self.store is not None
        while True:
            await asyncio.sleep(every)
            try:
                row = await run_in_threadpool(self.store.latest_experiment)
            except Exception as exc:  # noqa: BLE001 - keep serving in the current mode
                log.warning("could not read the experiments table", extra={"reason": str(exc)})
                continue
            if row is not None and row[0] != self._seen:
                await self._adopt(*row)
            self.follow_rounds += 1
            if self.router.mode == "bandit" and time.monotonic() - self._bandit_at >= BANDIT_REFRESH_S:
                self._bandit_at = time.monotonic()
                try:
                    share = await run_in_threadpool(self._bandit_share)
                except Exception as exc:  # noqa: BLE001 - keep the current share
                    log.warning("bandit share not updated", extra={"reason": f"{type(exc).__name__}: {exc}"})
                    continue
                if share is not None:
                    self.router.adapt(share)
                    self.share_gauge.set(share)

    def _bandit_share(self) -> float | None:
        """Thompson sampling over the running experiment's feedback (``mlcore.monitoring.abtest``)."""
        from mlcore.monitoring.abtest import METRICS, experiment_values, latest_experiment, thompson_share

        assert self.store is not None
        experiment = latest_experiment(self.store.path)
        if experiment is None or experiment.ended is not None:
            return None
        _, _, _, values, is_b = experiment_values(self.store.path, experiment)
        return thompson_share(values[~is_b], values[is_b], METRICS[experiment.metric], self.settings.bandit_floor)

    async def _adopt(
        self, exp_id: int, mode: str, share: float, challenger: str, ended: float | None, reason: str | None
    ) -> None:
        self._seen = exp_id
        if ended is not None:
            if (reason or "").startswith("guard rail"):
                self.router.cut(reason or "guard rail")
            elif self.router.mode != "champion":
                self.router.set_mode("champion")
        else:
            loaded = self.holder.challenger
            current = loaded is not None and loaded.version == challenger
            if not current and not await self.ensure_challenger(again=True):
                return
            self.router.set_mode(mode, share)
        log.info("rollout follows the shared experiment", extra={"experiment": exp_id, **self.router.describe()})
        self._show_mode()

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
        for task in list(self._shadows):
            task.cancel()
        if self.store is not None:
            self.store.close()

    async def ensure_challenger(self, again: bool = False) -> bool:
        if self.holder.challenger is not None and not again:
            return True
        return await self.holder.load_challenger_now()

    # -- scoring ----------------------------------------------------------------------------------
    async def score(self, items: Sequence[Any], key: str | None, request_id: str | None) -> Scored:
        """Answers from the arm the rollout picks (logged, counted); raises the 422/415/503 answer."""
        champion = self.holder.current
        if champion is None:
            raise Unavailable("no model loaded: " + self.holder.unavailable())
        request_id = request_id or uuid.uuid4().hex
        challenger = self.holder.challenger
        arm = self.router.arm_for(key) if challenger is not None else CHAMPION
        loaded = challenger if arm == CHALLENGER else champion
        start = time.perf_counter()
        try:
            outputs = await loaded.answer(items)
        except InputError as exc:
            raise item_rule_error(exc) from None
        except Exception as exc:
            self.errors.labels(arm, loaded.version).inc()
            if arm != CHALLENGER:
                raise
            # The challenger failed: the champion answers this request; the guard rail counts it.
            log.error("challenger failed; the champion answers", extra={"reason": f"{type(exc).__name__}: {exc}"[:300]})
            self._observe(False, 0.0, loaded.version)
            arm, loaded, start = CHAMPION, champion, time.perf_counter()
            outputs = await loaded.answer(items)
        elapsed = time.perf_counter() - start
        self.requests.labels(arm, loaded.version).inc()
        self.latency.labels(arm).observe(elapsed)
        if arm == CHALLENGER:
            self._observe(True, elapsed * 1000, loaded.version)
        inputs = log_inputs(loaded.predictor, items, raw=self.log_raw_inputs)
        self.traffic.observe(loaded.version, inputs, outputs, getattr(loaded.predictor, "labels", None))
        committed = self._log(loaded, inputs, outputs, request_id, arm)
        if self.router.shadowing and challenger is not None:
            self._shadow(challenger, items, request_id)
        if committed is not None:  # a durable log: no answer leaves before its row is committed
            try:
                await asyncio.wrap_future(committed)
            except LogBehind as exc:
                raise Unavailable(str(exc)) from None
        return Scored(loaded, outputs, arm, request_id)

    def _log(
        self, loaded: Any, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], request_id: str, arm: str
    ) -> Future[None] | None:
        """Record the answer (``inputs``: what the log keeps of the items); a durable log's future
        completes once the rows are committed."""
        committed = None
        if self.predlog is not None:
            try:
                committed = self.predlog.record(loaded.version, inputs, outputs, request_id=request_id, arm=arm)
            except LogBehind as exc:
                raise Unavailable(str(exc)) from None
        if self.store is not None and arm != SHADOW:
            self.store.answered(request_id, len(outputs), loaded.version)
        return committed

    def _shadow(self, challenger: Any, items: Sequence[Any], request_id: str) -> None:
        if len(self._shadows) >= self.settings.shadow_max_pending:
            self.shadow_skipped.inc()
            return
        task = asyncio.create_task(self._score_shadow(challenger, items, request_id))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def _score_shadow(self, challenger: Any, items: Sequence[Any], request_id: str) -> None:
        start = time.perf_counter()
        try:
            outputs = await challenger.answer(items)
        except InputError:
            return  # the same input the champion accepted; nothing to compare
        except Exception as exc:  # noqa: BLE001 - a shadow never reaches the client
            self.errors.labels(SHADOW, challenger.version).inc()
            log.error("shadow scoring failed", extra={"reason": f"{type(exc).__name__}: {exc}"[:300]})
            self._observe(False, 0.0, challenger.version)
            return
        elapsed = time.perf_counter() - start
        self.requests.labels(SHADOW, challenger.version).inc()
        self.latency.labels(SHADOW).observe(elapsed)
        self._observe(True, elapsed * 1000, challenger.version)
        with contextlib.suppress(Unavailable):  # a full durable log skips the shadow's row
            inputs = log_inputs(challenger.predictor, items, raw=self.log_raw_inputs)
            self._log(challenger, inputs, outputs, request_id, SHADOW)

    def _observe(self, ok: bool, ms: float, version: str) -> None:
        reason = self.router.observe(ok, ms)
        if reason is None:
            return
        log.error(
            "guard rail: challenger cut off, the champion answers everything",
            extra={"reason": reason, "version": version},
        )
        self._end_experiment(f"guard rail: {reason}")
        self._show_mode()
        self._tag(
            version,
            {"rollout.guard_rail": reason, "rollout.guard_rail_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        )

    def _tag(self, version: str, tags: dict[str, str]) -> None:
        """Tag the model version in the registry, off the request path (a child process: this
        process never imports MLflow)."""
        if self.tracking_uri is None:
            return
        args = [sys.executable, "-m", "mlcore.lifecycle.champion", "tag", self.model_name, version]
        args += [f"{key}={value}" for key, value in tags.items()]
        env = {"MLFLOW_TRACKING_URI": self.tracking_uri, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
        import os

        try:
            subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        except OSError as exc:
            log.warning("could not tag the model version", extra={"reason": str(exc)})

    # -- mode and experiments ---------------------------------------------------------------------
    def set_mode(self, mode: str, share: float | None) -> None:
        previous = self.router.mode
        self.router.set_mode(mode, share)
        if previous != "champion":
            self._end_experiment(f"mode changed to {mode}")
        if mode != "champion":
            self._begin_experiment()
        self._show_mode()

    def _begin_experiment(self) -> None:
        champion, challenger = self.holder.current, self.holder.challenger
        if self.store is None or champion is None or challenger is None or self.feedback_kind is None:
            return
        from mlcore.monitoring.abtest import resolve_metric

        plan = self.settings.test
        self._seen = self.store.begin_experiment(
            mode=self.router.mode,
            share=self.router.share,
            champion_version=champion.version,
            challenger_version=challenger.version,
            metric=resolve_metric(plan.metric, self.feedback_kind),
            alpha=plan.alpha,
            min_samples=plan.min_samples,
        )

    def _end_experiment(self, reason: str) -> None:
        if self.store is not None:
            self.store.end_experiment(reason)
            latest = self.store.latest_experiment()
            self._seen = latest[0] if latest else None

    def _show_mode(self) -> None:
        self.mode_gauge.clear()
        self.mode_gauge.labels(self.router.mode).set(1)
        self.share_gauge.set(self.router.share)
        self.guard_gauge.set(1 if self.router.cut_reason else 0)

    def describe(self) -> dict[str, Any]:
        champion, challenger = self.holder.current, self.holder.challenger
        return {
            **self.router.describe(),
            "champion_version": champion.version if champion else None,
            "challenger_version": challenger.version if challenger else None,
            **(
                {"challenger": self.holder.challenger_error}
                if challenger is None and self.holder.challenger_error
                else {}
            ),
        }

    def refresh_online_metrics(self) -> None:
        """The online metrics per version into the gauges (at most every 5 s; called by /metrics)."""
        if self.store is None or self.feedback_kind is None or time.monotonic() - self._online_at < 5:
            return
        self._online_at = time.monotonic()
        from mlcore.monitoring.abtest import joined, online_metrics

        self.online.clear()
        for version, figures in online_metrics(joined(self.store.path), self.feedback_kind).items():
            for name, value in figures.items():
                self.online.labels(version, name).set(value)
