"""``make autopilot``: drift to a promoted (or refused) challenger with no person in the loop.

What Alertmanager's retrain route runs (``mlcore.monitoring.alerthook``), and a command of its own:

1. ``retrain-on-drift`` (``mlcore.lifecycle.retrain``): the monitor judges recent traffic; on drift
   the model is retrained with the labelled feedback, registered as ``@challenger`` when it passes
   the offline gates, and the running server switches to canary.
2. **Canary** for ``autopilot.canary_s`` seconds: the server's guard rail watches the challenger's
   errors and latency; a trip sends every request back to the champion and the autopilot stops.
3. **A/B test** (when the server takes feedback): ``ab`` mode at ``autopilot.ab_share`` until the
   pre-registered sequential test decides (``GET /rollout``'s ``test.decision``) or
   ``autopilot.ab_deadline_s`` passes.
4. The challenger won: ``promote-challenger`` (the running server reloads). It lost, or nothing was
   decided in time: the champion answers alone again, and the challenger keeps its alias for a
   person to look at. Without feedback there is no online evidence: the champion stays unless
   ``autopilot.promote_without_feedback`` is true.

The decision is ``next_step`` (pure: the server's ``/rollout`` answer, the phase and the time spent
in it); ``run`` is its I/O shell. Exit codes: 0 promoted, or nothing to do (no drift, not judged);
1 no promotion (the candidate failed the offline gates, the guard rail cut it off, it lost the test
or the test did not decide in time); 3 an error (the monitor or the pipeline failed, no server).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from mlcore.foundation.progress import say
from mlcore.lifecycle import alias_commands, retrain

PROMOTED, NOT_PROMOTED, FAILED = 0, 1, 3


@dataclass(frozen=True)
class Policy:
    canary_s: float = 600.0
    ab_share: float = 0.5
    ab_deadline_s: float = 86400.0
    poll_s: float = 5.0
    promote_without_feedback: bool = False

    @classmethod
    def from_config(cls, given: Mapping[str, Any] | None) -> Policy:
        given = dict(given or {})
        unknown = set(given) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"rollout.retrain.autopilot: unknown setting(s) {sorted(unknown)}")
        return cls(**{k: type(getattr(cls, k))(v) for k, v in given.items()})


@dataclass(frozen=True)
class Step:
    action: str  # wait | ab | promote | champion | stop
    why: str


def next_step(status: Mapping[str, Any], phase: str, elapsed_s: float, policy: Policy) -> Step:
    """What to do now, from the server's ``GET /rollout`` answer, the phase (``canary`` or ``ab``)
    and the seconds spent in it."""
    if status.get("guard_rail"):
        return Step("stop", f"the guard rail cut the challenger off: {status['guard_rail']}")
    if status.get("mode") == "champion":
        return Step("stop", "the server went back to the champion alone (switched by someone else)")
    if phase == "canary":
        if elapsed_s < policy.canary_s:
            return Step("wait", f"canary: {elapsed_s:.0f} of {policy.canary_s:.0f} s, guard rail quiet")
        if status.get("test") is None:
            if policy.promote_without_feedback:
                return Step("promote", f"canary clean for {policy.canary_s:.0f} s (no feedback to test with)")
            return Step(
                "champion",
                "canary clean, but this server takes no feedback: no online evidence; `make promote-challenger` decides",
            )
        return Step("ab", f"canary clean for {policy.canary_s:.0f} s: A/B test at {policy.ab_share:.0%}")
    decision = (status.get("test") or {}).get("decision") or {}
    if decision.get("significant"):
        if decision.get("winner") == "challenger":
            return Step("promote", f"the challenger won the A/B test: {decision.get('reason')}")
        return Step("champion", f"the champion won the A/B test: {decision.get('reason')}")
    if elapsed_s >= policy.ab_deadline_s:
        return Step(
            "champion",
            f"the A/B test did not decide in {policy.ab_deadline_s:.0f} s ({decision.get('reason', 'no decision')})",
        )
    return Step("wait", f"A/B: {decision.get('reason', 'no decision yet')}")


def rollout_status(cfg: DictConfig) -> dict[str, Any] | None:
    """The server's ``GET /rollout``; None when no server answers."""
    try:
        with urllib.request.urlopen(alias_commands.server_url(cfg) + "/rollout", timeout=30) as answer:  # noqa: S310
            return json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def run(
    cfg: DictConfig,
    root: Path,
    monitor: Callable[[], int],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    policy = Policy.from_config(cfg.rollout.retrain.get("autopilot"))
    code = retrain.retrain_on_drift(cfg, root, monitor)
    if code != 0:
        return NOT_PROMOTED if code == 1 else FAILED
    status = rollout_status(cfg)
    if status is None:
        say("autopilot", f"no server answers at {alias_commands.server_url(cfg)}: nothing to watch")
        return FAILED
    if status["mode"] == "champion":
        say("autopilot", "no rollout started (no drift, or nothing to test): done")
        return PROMOTED
    challenger = status.get("challenger_version")
    phase, since = "canary", clock()
    say("autopilot", f"watching challenger v{challenger}: canary {policy.canary_s:.0f} s, then the A/B test")
    last = ""
    while True:
        status = rollout_status(cfg)
        if status is None:
            say("autopilot", "the server stopped answering: the rollout is left as it is")
            return FAILED
        step = next_step(status, phase, clock() - since, policy)
        if step.action == "wait":
            if step.why.split(":")[0] != last:
                say("autopilot", step.why)
                last = step.why.split(":")[0]
            sleep(policy.poll_s)
            continue
        say("autopilot", step.why)
        if step.action == "ab":
            answer = alias_commands.admin_call(
                cfg, "/admin/rollout", {"mode": "ab", "share": policy.ab_share}, root=root
            )
            if answer is None or "mode" not in answer:
                say("autopilot", f"the server refused the A/B switch: {answer}")
                return FAILED
            phase, since = "ab", clock()
            continue
        if step.action == "promote":
            if alias_commands.run(cfg, root, "promote-challenger", why=f"autopilot: {step.why}") != 0:
                return FAILED
            alias_commands.admin_call(cfg, "/admin/rollout", {"mode": "champion"}, root=root)  # the test is over
            say("autopilot", f"v{challenger} is @champion and answers alone")
            return PROMOTED
        if step.action == "champion":
            alias_commands.admin_call(cfg, "/admin/rollout", {"mode": "champion"}, root=root)
        return NOT_PROMOTED
