from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlcore.lifecycle import tracking
from mlcore.lifecycle.promotion import CHAMPION, Gate, current_champion, decide, gates_from_config, register_and_promote
from sklearn.linear_model import LogisticRegression


def test_gates() -> None:
    gate = Gate("test_f1", min=0.9)
    assert gate.check({"test_f1": 0.95}) is None
    assert "0.85" in gate.check({"test_f1": 0.85})
    assert "not measured" in gate.check({})
    assert Gate("rmse", max=10).check({"rmse": 11}) == "rmse=11.0000 > 10"


@pytest.mark.parametrize(
    ("candidate", "champion", "higher", "promoted", "why"),
    [
        ({"f1": 0.8}, None, True, False, "failed quality gates"),
        ({"f1": 0.95}, None, True, True, "no champion yet"),
        ({"f1": 0.95}, {"f1": 0.96}, True, False, "worse than champion"),
        ({"f1": 0.96}, {"f1": 0.96}, True, True, "not worse"),
        ({"f1": 0.95, "rmse": 5}, {"rmse": 4}, False, False, "worse than champion"),
    ],
)
def test_decide(candidate, champion, higher, promoted, why) -> None:
    primary = "f1" if higher else "rmse"
    ok, reason = decide(candidate, champion, gates_from_config({"f1": {"min": 0.9}}), primary, higher)
    assert ok is promoted and why in reason


def _log_model(store: Path) -> str:
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = LogisticRegression().fit(x, [0, 0, 1, 1])
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model, name="model", serialization_format="skops", pip_requirements=["scikit-learn"]
        )
    return info.model_uri


def test_register_and_promote_moves_the_alias_only_when_earned(store: Path) -> None:
    tracking.configure(store, "exp")
    first = register_and_promote("m", _log_model(store), {"f1": 0.95}, lambda uri: {}, [Gate("f1", min=0.9)], "f1")
    assert first.promoted and current_champion("m").version == int(first.version)
    worse = register_and_promote(
        "m", _log_model(store), {"f1": 0.91}, lambda uri: {"f1": 0.95}, [Gate("f1", min=0.9)], "f1"
    )
    assert not worse.promoted and worse.champion_version == first.version
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("m", CHAMPION).version) == first.version
    tags = client.get_model_version("m", worse.version).tags
    assert tags["promotion.decision"] == "rejected" and "worse than champion" in tags["promotion.reason"]
    description = client.get_model_version("m", worse.version).description
    assert description.startswith("**Registered, not promoted**") and tags["promotion.reason"] in description
    assert f"champion v{first.version} f1 on the same test data: 0.95" in description
    assert client.get_model_version("m", first.version).description.startswith("**Promoted to @champion**")
    better = register_and_promote("m", _log_model(store), {"f1": 0.97}, lambda uri: {"f1": 0.95}, [], "f1")
    assert better.promoted and str(client.get_model_version_by_alias("m", CHAMPION).version) == better.version


def test_store_is_sqlite_with_explicit_artifacts(store: Path) -> None:
    tracking.configure(store, "exp2")
    assert mlflow.get_tracking_uri() == f"sqlite:///{store / 'mlflow.db'}"
    exp = mlflow.get_experiment_by_name("exp2")
    assert exp.artifact_location == (store / "mlartifacts" / "exp2").as_uri()
