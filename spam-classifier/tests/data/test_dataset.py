"""Data tests on the SMS Spam Collection as `make data` fetched it (data/interim/)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlcore.data.splitting import dedupe, split
from mlcore.data.validation import check_frame, leakage
from mlcore.foundation.config import compose, to_dict

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "data" / "interim" / "dataset.parquet"


@pytest.fixture(scope="module")
def cfg():
    return compose(ROOT / "configs")


@pytest.fixture(scope="module")
def frame(cfg) -> pd.DataFrame:
    if not DATASET.exists():
        pytest.skip("data/interim/dataset.parquet is missing: run `make data` first")
    return pd.read_parquet(DATASET)


def test_row_count_and_class_split(frame: pd.DataFrame) -> None:
    assert len(frame) == 5574
    assert frame["label"].value_counts().to_dict() == {"ham": 4827, "spam": 747}


def test_merged_rows_were_split_out(frame: pd.DataFrame) -> None:
    assert not frame["text"].str.contains(r"\n(?:ham|spam)\t").any()
    assert not frame["text"].str.startswith(("ham\t", "spam\t")).any()


def test_schema(frame: pd.DataFrame, cfg) -> None:
    report = check_frame(frame, to_dict(cfg.data.schema))
    assert report.ok, report.errors
    assert report.stats["duplicates"] > 0  # the corpus repeats messages; split removes them


def test_split_is_deduplicated_stratified_and_leak_free(frame: pd.DataFrame, cfg) -> None:
    unique = dedupe(frame, ["text"])
    opts = cfg.train.split
    train, val, test = split(unique, opts.val_size, opts.test_size, opts.seed, "label")
    assert len(train) + len(val) + len(test) == len(unique) < len(frame)
    assert leakage(train, test, ["text"]) == 0 and leakage(train, val, ["text"]) == 0
    rates = [(part["label"] == "spam").mean() for part in (train, val, test)]
    assert max(rates) - min(rates) < 0.01
