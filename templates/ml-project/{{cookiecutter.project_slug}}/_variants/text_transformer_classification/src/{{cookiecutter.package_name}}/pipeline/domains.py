"""Stage domains: the model scored on out-of-domain snippets (tweets, Amazon reviews, NYT
editorials) beside its own test split: the cross-domain table in the README and
``reports/domains.json`` (with each domain's most confident mistakes), logged to the training run. It gates nothing: it says how far the model
travels.

Template-owned: edit templates/ml-project, then `make sync`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore.data.acquire import AcquisitionError, Source, fetch
from mlcore.foundation.config import load_params
from mlcore.foundation.io import read_json, write_json, write_parquet
from mlcore.foundation.progress import say, step
from mlcore.lifecycle import tracking
from mlcore.lifecycle.runs import owned_run
from mlcore.tasks import stages
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..data import parse_domains
from ..task import TASK

DOMAINS_FILE = "domains.json"
WORST_ERRORS = 5  # the most confident mistakes kept per out-of-domain set (domains.json, the model card's run)


def load_domains(cfg: DictConfig, root: Path) -> pd.DataFrame:
    """Fetch ``data.domains`` into ``paths.domains_raw`` and parse it into ``paths.domains``."""
    source = Source.from_config(cfg.data.domains.source)
    raw = root / cfg.paths.domains_raw
    with step("domains", f"fetch {source.describe()}"):
        fetched = fetch(source, raw, project=root)
    frame = parse_domains(fetched, cfg.data.domains)
    write_parquet(frame, root / cfg.paths.domains)
    return frame


def compare(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    import mlflow

    tracking.configure(root, cfg.project.experiment)
    frame = load_domains(cfg, root)
    predictor = TASK.served.load(root / cfg.paths.model)
    test = stages.read_splits(cfg, root, ("test",))["test"]
    table: dict[str, Any] = {}
    for domain, rows in [(cfg.data.name + " (test)", test), *frame.groupby("domain", sort=True)]:
        scored = TASK.score(predictor, rows, cfg).metrics
        table[str(domain)] = {
            "texts": len(rows),
            "positive_share": round(float((rows["label"] == "positive").mean()), 4),
            "accuracy": round(scored["test_accuracy"], 4),
            "f1_macro": round(scored["test_f1_macro"], 4),
        }
        say("domains", f"{domain}: accuracy={scored['test_accuracy']:.4f} on {len(rows)} texts")
        if not str(domain).endswith("(test)"):
            table[str(domain)]["worst_errors"] = worst_errors(predictor, rows)
    out = {"domains": table}
    write_json(out, root / cfg.paths.reports / DOMAINS_FILE)
    run_id = read_json(root / cfg.paths.run_info)["run_id"]
    with owned_run(run_id=run_id):
        mlflow.log_metrics({f"domain_{name.split(' ')[0]}_accuracy": row["accuracy"] for name, row in table.items()})
    return out


def worst_errors(predictor: Any, rows: pd.DataFrame, n: int = WORST_ERRORS) -> list[dict[str, Any]]:
    """The ``n`` most confident mistakes on a domain's texts: what the model gets wrong there."""
    probabilities, _, _ = predictor.forward(rows["text"].tolist())
    predicted, confidence = probabilities.argmax(axis=1), probabilities.max(axis=1)
    truth = rows["label"].map({label: i for i, label in enumerate(predictor.labels)}).to_numpy()
    wrong = np.flatnonzero(predicted != truth)
    return [
        {
            "text": str(rows["text"].iloc[i])[:200],
            "label": str(rows["label"].iloc[i]),
            "predicted": predictor.labels[int(predicted[i])],
            "confidence": round(float(confidence[i]), 4),
        }
        for i in wrong[np.argsort(-confidence[wrong], kind="stable")][:n]
    ]


run = compare  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    try:
        compare(load_params(PROJECT_ROOT / "params.yaml"))
    except AcquisitionError as exc:
        raise SystemExit(f"domains failed: {exc}") from None


if __name__ == "__main__":
    main()
