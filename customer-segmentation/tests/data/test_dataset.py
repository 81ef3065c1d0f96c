"""Data tests on the configured dataset (CDNOW master by default): the published figures."""

from __future__ import annotations

import pandas as pd
from mlcore.data.validation import check_frame
from mlcore.foundation.config import to_dict


def test_schema(dataset) -> None:
    cfg, frame = dataset
    report = check_frame(frame, to_dict(cfg.data.schema))
    assert report.ok, report.errors


def test_rows_customers_and_dates_match_the_source(dataset) -> None:
    cfg, frame = dataset
    expected = cfg.data.expected
    assert len(frame) == expected.rows
    assert frame["customer_id"].nunique() == expected.customers
    assert frame["date"].min() == pd.Timestamp(expected.first_date)
    assert frame["date"].max() == pd.Timestamp(expected.last_date)


def test_purchases_are_plausible(dataset) -> None:
    _, frame = dataset
    assert frame.notna().all().all()
    assert (frame["quantity"] >= 1).all()
    assert (frame["amount"] >= 0).all()
    # A few free purchases exist (amount 0); they must stay rare.
    assert (frame["amount"] == 0).mean() < 0.01
