"""Moves of @champion / @challenger, their history in the registry, rollback and promotion."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from mlcore.lifecycle import champion, tracking
from mlcore.lifecycle.promotion import Gate, register_and_promote

NAME = "m"


def _version(store: Path, n: int) -> str:
    """A registered version of ``m`` (an artifact folder; nothing is served from it here)."""
    client = mlflow.MlflowClient()
    if n == 1:
        client.create_registered_model(NAME)
    with mlflow.start_run() as run:
        folder = store / f"v{n}"
        folder.mkdir()
        (folder / "factor.txt").write_text(str(n))
        mlflow.log_artifacts(str(folder), artifact_path="model")
    return str(client.create_model_version(NAME, f"runs:/{run.info.run_id}/model", run.info.run_id).version)


@pytest.fixture
def versions(store: Path) -> list[str]:
    tracking.configure(store, "exp")
    made = [_version(store, n) for n in (1, 2, 3)]
    champion.move_champion(NAME, "1", via="pipeline", why="first")
    champion.move_champion(NAME, "2", via="pipeline", why="better")
    return made


def test_rollback_goes_back_once_and_a_second_rollback_changes_nothing(versions: list[str]) -> None:
    move = champion.rollback(NAME, "v2 misbehaves")
    assert (move.version, move.previous, move.changed) == ("1", "2", True)
    assert champion.alias_version(NAME, "champion").version == 1
    tags = mlflow.MlflowClient().get_model_version(NAME, "1").tags
    assert (
        tags["champion.via"] == "rollback"
        and tags["champion.why"] == "v2 misbehaves"
        and tags["champion.previous"] == "2"
    )
    assert "@" in tags["champion.by"]
    again = champion.rollback(NAME, "again")
    assert not again.changed and "already rolled back" in again.message and "TO=" in again.message
    assert champion.alias_version(NAME, "champion").version == 1
    trail = champion.audit_trail(NAME)
    assert [(e["version"], e["via"]) for e in trail] == [("1", "pipeline"), ("2", "pipeline"), ("1", "rollback")]


def test_rollback_to_a_named_version_and_refusals(versions: list[str]) -> None:
    assert champion.rollback(NAME, "pick", to="v3").version == "3"
    assert not champion.rollback(NAME, "same", to="3").changed
    with pytest.raises(champion.Refused, match="no such version"):
        champion.rollback(NAME, "gone", to="9")
    champion.move_champion(NAME, "1", via="rollback", why="x", previous="")
    champion.move_champion(NAME, "1", via="pipeline", why="reset", previous="")
    with pytest.raises(champion.Refused, match="nothing to roll back to: v1 is the first champion"):
        champion.rollback(NAME, "nothing before")


def test_nothing_to_roll_back_without_a_champion(store: Path) -> None:
    tracking.configure(store, "exp")
    with pytest.raises(champion.Refused, match="has no @champion"):
        champion.rollback(NAME, "why")


def test_legacy_registry_rolls_back_to_the_last_promoted_version(store: Path) -> None:
    """Versions promoted before the history tags existed: the promotion decision tags decide."""
    tracking.configure(store, "exp")
    client = mlflow.MlflowClient()
    for n in (1, 2, 3):
        _version(store, n)
    client.set_model_version_tag(NAME, "1", "promotion.decision", "promoted")
    client.set_model_version_tag(NAME, "2", "promotion.decision", "rejected")
    client.set_model_version_tag(NAME, "3", "promotion.decision", "promoted")
    client.set_registered_model_alias(NAME, "champion", "3")
    assert champion.rollback(NAME, "legacy").version == "1"


def test_promote_challenger_is_idempotent_and_refuses_without_one(versions: list[str]) -> None:
    with pytest.raises(champion.Refused, match="no @challenger"):
        champion.promote_challenger(NAME, "why")
    with pytest.raises(champion.Refused, match="is @champion"):
        champion.set_challenger(NAME, "2", "the champion itself")
    champion.set_challenger(NAME, "3", "retrained on drift")
    move = champion.promote_challenger(NAME, "won the A/B test")
    assert (move.version, move.previous, move.via) == ("3", "2", "promote-challenger")
    assert champion.alias_version(NAME, "challenger") is None
    again = champion.promote_challenger(NAME, "twice")
    assert not again.changed and "already promoted" in again.message
    back = champion.rollback(NAME, "online metrics fell")  # and the way back still works
    assert back.version == "2"
    status = champion.status(NAME)
    assert status["champion"]["version"] == "2" and status["challenger"] is None and len(status["audit"]) == 4


def test_pipeline_promotion_records_the_previous_champion_and_can_register_a_challenger(store: Path) -> None:
    tracking.configure(store, "exp")
    gates = [Gate("f1", min=0.9)]

    def uri(n: int) -> str:
        with mlflow.start_run() as run:
            mlflow.log_text(str(n), "model/factor.txt")
            mlflow.log_text("flavors: {}\n", "model/MLmodel")  # what register_model looks for
        return f"runs:/{run.info.run_id}/model"

    first = register_and_promote(NAME, uri(1), {"f1": 0.95}, lambda _: {"f1": 0.95}, gates, "f1")
    second = register_and_promote(NAME, uri(2), {"f1": 0.96}, lambda _: {"f1": 0.95}, gates, "f1")
    client = mlflow.MlflowClient()
    assert client.get_model_version(NAME, second.version).tags["champion.previous"] == first.version
    candidate = register_and_promote(
        NAME, uri(3), {"f1": 0.91}, lambda _: {"f1": 0.96}, gates, "f1", register_as=champion.CHALLENGER
    )
    assert candidate.promoted and "@challenger" in candidate.reason
    assert champion.alias_version(NAME, "challenger").version == int(candidate.version)
    assert champion.alias_version(NAME, "champion").version == int(second.version)
    failing = register_and_promote(
        NAME, uri(4), {"f1": 0.5}, lambda _: {"f1": 0.96}, gates, "f1", register_as="challenger"
    )
    assert not failing.promoted and champion.alias_version(NAME, "challenger").version == int(candidate.version)


def test_tag_command_is_how_a_server_tags_a_version(versions: list[str]) -> None:
    assert champion.main(["tag", NAME, "2", "rollout.guard_rail=error rate 50%"]) == 0
    assert mlflow.MlflowClient().get_model_version(NAME, "2").tags["rollout.guard_rail"] == "error rate 50%"
    assert champion.main(["tag", NAME]) == 2
    assert json.loads(json.dumps(champion.status(NAME)))["champion"]["version"] == "2"
