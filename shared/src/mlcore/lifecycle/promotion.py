"""Register every candidate; move ``@champion`` only past the gates and the current champion.

Aliases only: registry stages are deprecated and never used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlcore.foundation.io import write_json
from mlcore.lifecycle.aliases import CHALLENGER, CHAMPION


@dataclass(frozen=True)
class Gate:
    """``metric`` must be >= ``min`` and/or <= ``max``."""

    metric: str
    min: float | None = None
    max: float | None = None

    def check(self, metrics: Mapping[str, float]) -> str | None:
        """Return why the gate fails, or None when it passes."""
        if self.metric not in metrics:
            return f"{self.metric} was not measured"
        value = metrics[self.metric]
        if self.min is not None and value < self.min:
            return f"{self.metric}={value:.4f} < {self.min}"
        if self.max is not None and value > self.max:
            return f"{self.metric}={value:.4f} > {self.max}"
        return None


def gates_from_config(cfg: Mapping[str, Mapping[str, float]]) -> list[Gate]:
    """``{"test_f1": {"min": 0.93}}`` -> gates."""
    return [Gate(metric=name, min=rule.get("min"), max=rule.get("max")) for name, rule in cfg.items()]


@dataclass
class Decision:
    promoted: bool
    reason: str
    model_name: str = ""
    version: str = ""
    primary_metric: str = ""
    candidate: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] | None = None
    champion_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    gates: list[Gate],
    primary_metric: str,
    higher_is_better: bool = True,
) -> tuple[bool, str]:
    """Pure decision: every gate passes AND the candidate is not worse than the champion."""
    failures = [why for gate in gates if (why := gate.check(candidate))]
    if failures:
        return False, "failed quality gates: " + "; ".join(failures)
    if champion is None:
        return True, "passed quality gates; no champion yet"
    if primary_metric not in champion or primary_metric not in candidate:
        return False, f"cannot compare with champion: {primary_metric} missing"
    cand, champ = candidate[primary_metric], champion[primary_metric]
    worse = cand < champ if higher_is_better else cand > champ
    if worse:
        return False, f"worse than champion on the same test data: {primary_metric} {cand:.4f} vs {champ:.4f}"
    return True, f"passed quality gates and not worse than champion: {primary_metric} {cand:.4f} vs {champ:.4f}"


def current_champion(model_name: str) -> Any | None:
    """The model version holding ``@champion``, or None."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def register_and_promote(
    model_name: str,
    model_uri: str,
    candidate_metrics: Mapping[str, float],
    evaluate_champion: Callable[[str], Mapping[str, float]],
    gates: list[Gate],
    primary_metric: str,
    higher_is_better: bool = True,
    register_as: str = CHAMPION,
) -> Decision:
    """Register ``model_uri`` as a new version of ``model_name`` and decide on ``@champion``.

    ``evaluate_champion(model_uri)`` scores the current champion on the same test data as the
    candidate. The decision and its reason are recorded as tags on the new version and written into
    its description (what the MLflow UI shows on the version's page); a move of ``@champion`` is
    recorded for ``make rollback`` (``mlcore.lifecycle.champion``). With ``register_as="challenger"``
    a candidate that passes the gates becomes ``@challenger`` (the online test decides the rest)
    and ``@champion`` stays where it is.
    """
    import mlflow

    from mlcore.lifecycle.champion import move_champion

    client = mlflow.MlflowClient()
    champion_mv = current_champion(model_name)
    version = mlflow.register_model(model_uri, model_name)
    champion_metrics = None
    if champion_mv is not None:
        champion_metrics = dict(evaluate_champion(f"models:/{model_name}/{champion_mv.version}"))
    promoted, reason = decide(candidate_metrics, champion_metrics, gates, primary_metric, higher_is_better)
    if register_as == CHALLENGER:  # the offline gates only: traffic decides against the champion
        promoted, reason = decide(candidate_metrics, None, gates, primary_metric, higher_is_better)
        if promoted:
            reason = "passed quality gates: registered as @challenger for the online test; @champion stays"
    decision = Decision(
        promoted=promoted,
        reason=reason,
        model_name=model_name,
        version=str(version.version),
        primary_metric=primary_metric,
        candidate={k: float(v) for k, v in candidate_metrics.items()},
        champion=champion_metrics,
        champion_version=str(champion_mv.version) if champion_mv is not None else None,
    )
    client.set_model_version_tag(
        model_name, version.version, "promotion.decision", "promoted" if promoted else "rejected"
    )
    client.set_model_version_tag(model_name, version.version, "promotion.reason", reason)
    for name, value in candidate_metrics.items():
        client.set_model_version_tag(model_name, version.version, f"metric.{name}", f"{value:.6g}")
    client.update_model_version(model_name, version.version, description=describe(decision, register_as))
    if promoted and register_as == CHALLENGER:
        client.set_registered_model_alias(model_name, CHALLENGER, version.version)
    elif promoted:
        move_champion(model_name, str(version.version), via="pipeline", why=reason, previous=decision.champion_version)
    return decision


def describe(decision: Decision, register_as: str = CHAMPION) -> str:
    """The model version's description in the registry: the decision, its reason and the figures."""
    verdict = f"Promoted to @{register_as}" if decision.promoted else "Registered, not promoted"
    lines = [f"**{verdict}**: {decision.reason}", ""]
    primary = decision.primary_metric
    lines.append(f"- candidate {primary}: {decision.candidate.get(primary, float('nan')):.4g}")
    if decision.champion is not None and decision.champion_version is not None:
        lines.append(
            f"- champion v{decision.champion_version} {primary} on the same test data: "
            f"{decision.champion.get(primary, float('nan')):.4g}"
        )
    return "\n".join(lines)


def write_decision(decision: Decision, path: str | Path) -> None:
    write_json(decision.to_dict(), path)
