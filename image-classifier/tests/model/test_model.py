"""The trained model: quality gates, what was tracked, and how promotion decides."""

from __future__ import annotations

import json
from typing import Any

import mlflow
import pytest
from mlcore.lifecycle.promotion import current_champion

pytestmark = pytest.mark.slow


def test_passes_quality_gates_and_becomes_champion(trained: dict[str, Any]) -> None:
    from mlcore.tasks.stages import promotion_metrics

    cfg, decision = trained["cfg"], trained["decision"]
    judged = promotion_metrics(cfg, trained["root"])  # the evaluation's metrics (and any baseline margin)
    for metric, rule in cfg.train.promotion.gates.items():
        if "min" in rule:
            assert judged[metric] >= rule["min"]
        if "max" in rule:
            assert judged[metric] <= rule["max"]
    assert decision.promoted, decision.reason
    champion = current_champion(cfg.project.model_name)
    assert champion is not None and str(champion.version) == decision.version
    assert (trained["root"] / cfg.paths.export / "serving_metadata.json").exists()


def test_run_records_config_commit_data_hash_and_model(trained: dict[str, Any]) -> None:
    run = mlflow.get_run(trained["run_info"]["run_id"])
    assert run.data.tags["git.commit"]
    assert len(run.data.tags["data.train.md5"]) == 32
    assert run.data.params["model.name"] == trained["cfg"].model.name
    primary = trained["cfg"].train.promotion.primary_metric
    assert primary in run.data.metrics
    assert any(name.startswith("val_") for name in run.data.metrics)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"config", "plots"} <= artifacts
    model = mlflow.models.get_model_info(trained["run_info"]["model_uri"])
    assert model.signature is not None
    assert model.metadata["task_type"] == trained["cfg"].project.task_type


def test_worse_candidate_is_registered_but_not_promoted(trained: dict[str, Any]) -> None:
    from mlcore.lifecycle.promotion import gates_from_config, register_and_promote

    cfg = trained["cfg"]
    rules = cfg.train.promotion
    champion = current_champion(cfg.project.model_name)
    step = -0.05 if rules.higher_is_better else 0.05
    worse = {k: v + step if k == rules.primary_metric else v for k, v in trained["metrics"].items()}
    decision = register_and_promote(
        cfg.project.model_name,
        trained["run_info"]["model_uri"],
        worse,
        evaluate_champion=lambda uri: trained["metrics"],
        gates=gates_from_config({}),
        primary_metric=rules.primary_metric,
        higher_is_better=rules.higher_is_better,
    )
    assert not decision.promoted and "worse than champion" in decision.reason
    assert str(current_champion(cfg.project.model_name).version) == str(champion.version)
    tags = mlflow.MlflowClient().get_model_version(cfg.project.model_name, decision.version).tags
    assert tags["promotion.decision"] == "rejected"


def test_metrics_file_matches_run(trained: dict[str, Any]) -> None:
    root, cfg = trained["root"], trained["cfg"]
    metrics = json.loads((root / cfg.paths.reports / "metrics.json").read_text())
    run = mlflow.get_run(trained["run_info"]["run_id"])
    primary = cfg.train.promotion.primary_metric
    assert metrics[primary] == pytest.approx(run.data.metrics[primary])


def test_the_registered_version_has_a_model_card_linked_from_the_registry(trained: dict[str, Any]) -> None:
    cfg, decision = trained["cfg"], trained["decision"]
    reports = trained["root"] / cfg.paths.reports
    card = (reports / "model_card.md").read_text()
    assert f"version {decision.version}" in card
    for section in ("## Intended use", "## Training data", "## Evaluation", "## Explanations", "## Limitations"):
        assert section in card
    metrics = json.loads((trained["root"] / cfg.paths.metrics).read_text())
    primary = cfg.train.promotion.primary_metric
    assert f"| {primary.removeprefix('test_')} | {metrics[primary]:.4f} |" in card
    assert "<table>" in (reports / "model_card.html").read_text()
    if cfg.evaluate.slices:  # metrics per slice, the worst named on the card and readable by a gate
        assert f"test_worst_slice_{cfg.evaluate.slices.metric}" in metrics
        assert "Worst slice: " in card and (trained["root"] / cfg.paths.plots / "slices.csv").exists()
    version = mlflow.MlflowClient().get_model_version(cfg.project.model_name, decision.version)
    assert f"runs:/{trained['run_info']['run_id']}/model_card/model_card.html" in version.description
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(trained["run_info"]["run_id"], "model_card")}
    assert logged == {"model_card/model_card.md", "model_card/model_card.html"}
