"""Data tests on the full Ames data as `make data` fetched it (data/interim/): one test per rule."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlcore.data.validation import check_frame
from mlcore.foundation.config import compose, to_dict

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "data" / "interim" / "dataset.parquet"


@pytest.fixture(scope="module")
def cfg():
    return compose(ROOT / "configs")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    if not DATASET.exists():
        pytest.skip("data/interim/dataset.parquet is missing: run `make data` first")
    return pd.read_parquet(DATASET)


def test_size_and_columns(frame: pd.DataFrame, cfg) -> None:
    assert len(frame) == 2930
    assert len(cfg.data.features.numeric) + len(cfg.data.features.categorical) == 73
    assert list(frame.columns) == [*cfg.data.features.numeric, *cfg.data.features.categorical, cfg.data.target]


def test_types(frame: pd.DataFrame, cfg) -> None:
    assert all(pd.api.types.is_float_dtype(frame[c]) for c in [*cfg.data.features.numeric, cfg.data.target])
    assert all(pd.api.types.is_object_dtype(frame[c]) for c in cfg.data.features.categorical)


def test_ranges_and_category_sets(frame: pd.DataFrame, cfg) -> None:
    report = check_frame(frame, to_dict(cfg.data.schema))
    assert report.ok, report.errors


def test_missing_value_report(frame: pd.DataFrame, cfg) -> None:
    report = check_frame(frame, to_dict(cfg.data.schema))
    missing = {k[: -len(".missing")]: v for k, v in report.stats.items() if k.endswith(".missing") and v}
    assert missing == {}, f"unexpected missing values: {missing}"
    assert (frame[cfg.data.features.categorical] == "None").sum().sum() > 0  # absent features are explicit


def test_no_duplicate_sales(frame: pd.DataFrame) -> None:
    assert not frame.duplicated().any()


def test_target_is_a_plausible_price(frame: pd.DataFrame, cfg) -> None:
    price = frame[cfg.data.target]
    assert price.between(10_000, 1_000_000).all()
    assert 150_000 < price.median() < 180_000


def test_schema_rejects_impossible_values(frame: pd.DataFrame, cfg) -> None:
    broken = frame.head(20).copy()
    broken.loc[0, "Gr_Liv_Area"] = -5.0
    broken.loc[1, "Neighborhood"] = "Atlantis"
    errors = check_frame(broken, to_dict(cfg.data.schema)).errors
    assert any(e.startswith("Gr_Liv_Area") for e in errors) and any(e.startswith("Neighborhood") for e in errors)
