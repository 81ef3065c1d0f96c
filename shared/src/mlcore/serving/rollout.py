"""Champion and challenger in one service: which arm answers a request, and the guard rails.

Modes (``rollout.mode``; switched at run time by ``POST /admin/rollout``):

- ``champion``: the champion answers everything (the default);
- ``shadow``: the champion answers; the challenger scores a copy off the request path (both
  logged under the same request id; at most ``shadow_max_pending`` copies in flight);
- ``canary``: the challenger answers ``canary_share`` of requests;
- ``ab``: the challenger answers ``ab_split`` of requests; the online test (``mlcore.monitoring.abtest``)
  judges the pre-registered metric from the feedback;
- ``bandit``: Thompson sampling: the challenger's share starts at one half and follows the
  posterior probability that it is the better arm (``mlcore.monitoring.abtest.thompson_share``,
  within [``bandit_floor``, 1 - ``bandit_floor``]) as feedback arrives.

A request with the ``key_header`` header always gets the same arm (a hash of the key), others are
drawn at random. The guard rail watches the challenger's newest ``guard.window`` requests: past
``guard.max_error_rate`` errors or a p95 latency over ``guard.max_p95_ms`` the mode returns to
``champion`` at once and the reason is kept (``/rollout``, the log, a tag on the model version).
Pure logic: no I/O, no clock of its own (callers pass latencies), so it is tested directly.
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlcore.lifecycle.aliases import CHALLENGER, CHAMPION

MODES = ("champion", "shadow", "canary", "ab", "bandit")
SPLIT_MODES = ("canary", "ab", "bandit")  # the challenger answers a share of requests
SHADOW = "shadow"


@dataclass(frozen=True)
class GuardRail:
    max_error_rate: float = 0.05
    max_p95_ms: float = 1000.0
    window: int = 200
    min_requests: int = 20

    def breach(self, outcomes: deque[tuple[bool, float]]) -> str | None:
        """Why the challenger must stop answering, or None (``outcomes``: (ok, ms) newest last)."""
        if len(outcomes) < self.min_requests:
            return None
        errors = sum(1 for ok, _ in outcomes if not ok)
        rate = errors / len(outcomes)
        if rate > self.max_error_rate:
            return (
                f"error rate {rate:.1%} ({errors} of its last {len(outcomes)} requests) "
                f"> guard.max_error_rate {self.max_error_rate:.1%}"
            )
        latencies = [ms for ok, ms in outcomes if ok]
        if latencies:
            p95 = float(np.percentile(latencies, 95))
            if p95 > self.max_p95_ms:
                return f"p95 latency {p95:.0f} ms over its last {len(latencies)} answers > guard.max_p95_ms {self.max_p95_ms:.0f}"
        return None


@dataclass(frozen=True)
class TestPlan:
    """The A/B test's pre-registered settings."""

    metric: str = "auto"
    alpha: float = 0.05
    min_samples: int = 100


@dataclass
class RolloutSettings:
    mode: str = "champion"
    canary_share: float = 0.1
    ab_split: float = 0.5
    key_header: str = "x-request-key"
    shadow_max_pending: int = 64
    bandit_floor: float = 0.05
    guard: GuardRail = field(default_factory=GuardRail)
    test: TestPlan = field(default_factory=TestPlan)

    def __post_init__(self) -> None:
        check_mode(self.mode)
        for name in ("canary_share", "ab_split"):
            check_share(getattr(self, name), f"rollout.{name}")

    @classmethod
    def from_config(cls, rollout: Mapping[str, Any] | None) -> RolloutSettings:
        if not rollout:
            return cls()
        guard, test = dict(rollout.get("guard") or {}), dict(rollout.get("test") or {})
        return cls(
            mode=str(rollout.get("mode", "champion")),
            canary_share=float(rollout.get("canary_share", 0.1)),
            ab_split=float(rollout.get("ab_split", 0.5)),
            key_header=str(rollout.get("key_header", "x-request-key")).lower(),
            shadow_max_pending=int(rollout.get("shadow_max_pending", 64)),
            bandit_floor=float(rollout.get("bandit_floor", 0.05)),
            guard=GuardRail(**{k: type(getattr(GuardRail, k))(v) for k, v in guard.items()}),
            test=TestPlan(**{k: type(getattr(TestPlan, k))(v) for k, v in test.items()}),
        )


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"rollout.mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def check_share(share: float, name: str = "share") -> float:
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, not {share}")
    return share


def bucket(key: str) -> float:
    """A stable number in [0, 1) for a request key (the same key, the same arm)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Router:
    """The current mode, the challenger's share and its guard-rail window."""

    def __init__(self, settings: RolloutSettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.mode = settings.mode
        self.share = self._default_share(self.mode)
        self.cut_reason: str | None = None
        self._window: deque[tuple[bool, float]] = deque(maxlen=settings.guard.window)
        self._rng = rng or random.Random()  # noqa: S311 - traffic split, not cryptography

    def _default_share(self, mode: str) -> float:
        return {"canary": self.settings.canary_share, "ab": self.settings.ab_split, "bandit": 0.5}.get(mode, 0.0)

    def set_mode(self, mode: str, share: float | None = None) -> None:
        """Switch mode (and the challenger's share); a new mode starts a fresh guard-rail window."""
        check_mode(mode)
        self.mode = mode
        self.share = check_share(share) if share is not None and mode in SPLIT_MODES else self._default_share(mode)
        self.cut_reason = None
        self._window.clear()

    def arm_for(self, key: str | None) -> str:
        """Which arm answers: the challenger for ``share`` of requests (sticky by ``key``)."""
        if self.share <= 0.0 or self.mode not in SPLIT_MODES:
            return CHAMPION
        draw = bucket(key) if key else self._rng.random()
        return CHALLENGER if draw < self.share else CHAMPION

    @property
    def shadowing(self) -> bool:
        return self.mode == "shadow"

    def observe(self, ok: bool, ms: float) -> str | None:
        """Record one challenger request (answered or shadowed); the guard rail's reason when it
        trips (the mode is then ``champion``), else None."""
        if self.mode == "champion":
            return None
        self._window.append((ok, ms))
        reason = self.settings.guard.breach(self._window)
        if reason is not None:
            self.cut(reason)
        return reason

    def adapt(self, share: float) -> None:
        """The bandit's new share (the guard-rail window carries on)."""
        if self.mode == "bandit":
            self.share = check_share(share)

    def cut(self, reason: str) -> None:
        self.mode, self.share, self.cut_reason = "champion", 0.0, reason
        self._window.clear()

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "challenger_share": self.share, "guard_rail": self.cut_reason}
