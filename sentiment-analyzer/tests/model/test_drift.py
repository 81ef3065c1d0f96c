"""Domain drift: tweets and Amazon review snippets sent as traffic are flagged; held-out movie
snippets are not. Text signals and sentence-embedding projections, against the training reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlcore.lifecycle.artifacts import reference_profile
from mlcore.monitoring.drift import Thresholds, compare

from sentiment_analyzer.predictor import load_predictor

pytestmark = pytest.mark.slow  # every test here uses the trained pipeline

ROOT = Path(__file__).resolve().parents[2]


def verdict(texts: list[str], trained: dict[str, Any]) -> dict[str, Any]:
    root, cfg = Path(trained["root"]), trained["cfg"]
    model = load_predictor(root / cfg.paths.model)
    frame = model.drift_frame([{"text": t} for t in texts])
    return compare(reference_profile(root / cfg.paths.model), frame, Thresholds(**cfg.monitor.thresholds))


def test_held_out_movie_snippets_do_not_drift(trained: dict[str, Any]) -> None:
    root, cfg = Path(trained["root"]), trained["cfg"]
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet")
    assert not verdict(test["text"].tolist(), trained)["drift_detected"]


@pytest.mark.parametrize("domain", ["tweets", "amazon"])
def test_other_domains_drift(trained: dict[str, Any], domain: str) -> None:
    domains = pd.read_csv(ROOT / "data/sample/domains.csv")
    result = verdict(domains.loc[domains["domain"] == domain, "text"].tolist(), trained)
    assert result["drift_detected"], result
