"""Stage promote: register the candidate; move @champion only past the gates and the champion."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlcore.foundation.config import load_params, to_dict
from mlcore.foundation.progress import say, step
from mlcore.lifecycle import registry, tracking
from mlcore.lifecycle.promotion import Decision, gates_from_config, register_and_promote, write_decision
from mlcore.lifecycle.runs import owned_run
from mlcore.tasks import stages
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from .evaluate import score


def promote(cfg: DictConfig, root: Path = PROJECT_ROOT) -> Decision:
    tracking.configure(root, cfg.project.experiment)
    run_info = json.loads((root / cfg.paths.run_info).read_text(encoding="utf-8"))
    candidate = stages.promotion_metrics(cfg, root)
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet")
    rules = cfg.train.promotion

    def evaluate_champion(model_uri: str) -> dict[str, float]:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
            return score(Path(local), test, cfg)

    with step("promote", f"register {cfg.project.model_name} and decide on @{cfg.rollout.register_as}"):
        decision = register_and_promote(
            model_name=cfg.project.model_name,
            model_uri=run_info["model_uri"],
            candidate_metrics=candidate,
            evaluate_champion=evaluate_champion,
            gates=gates_from_config(to_dict(rules.gates)),
            primary_metric=rules.primary_metric,
            higher_is_better=rules.higher_is_better,
            register_as=cfg.rollout.register_as,
        )
    with owned_run(run_id=run_info["run_id"]):
        mlflow.set_tags(
            {
                "promotion.decision": "promoted" if decision.promoted else "rejected",
                "promotion.reason": decision.reason,
                "registered.version": decision.version,
            }
        )
    write_decision(decision, root / cfg.paths.reports / "promotion.json")
    if decision.promoted or not (root / cfg.paths.export).exists():
        try:
            registry.download_champion(cfg.project.model_name, root / cfg.paths.export)
        except Exception as exc:  # noqa: BLE001 - no champion yet: nothing to export
            say("promote", f"no champion to export yet ({exc})")
    verdict = f"PROMOTED to @{cfg.rollout.register_as}" if decision.promoted else "kept as a candidate"
    say("promote", f"version {decision.version} {verdict}: {decision.reason}")
    return decision


run = promote  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    promote(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
