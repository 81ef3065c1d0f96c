"""Pure functions: parsing, customer features, the table, preprocessing, models, naming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlcore.foundation.config import compose
from mlcore.tasks.clustering import centres
from omegaconf import OmegaConf

from customer_segmentation.data import COLUMNS, online_retail_transactions, parse_cdnow, parse_raw
from customer_segmentation.features import (
    FEATURES,
    build_preprocessor,
    build_table,
    customer_features,
    name_segments,
    rfm_name,
)
from customer_segmentation.model import fit_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg():
    return compose(ROOT / "configs", ["debug=default"])


@pytest.fixture(scope="module")
def rows(cfg) -> pd.DataFrame:
    return parse_raw(ROOT / cfg.data.source.path, cfg.data)


@pytest.fixture(scope="module")
def table(cfg, rows: pd.DataFrame) -> pd.DataFrame:
    return build_table(rows, cfg.data)


def test_cdnow_text_is_parsed_to_typed_transactions(tmp_path: Path) -> None:
    raw = tmp_path / "CDNOW_master.txt"
    raw.write_text(
        " customer_id  date number_of_cds  dollar_value\n 00002 19970112  5   77.00\n 00001 19970101  1   11.77\n"
    )
    frame = parse_cdnow(raw)
    assert list(frame.columns) == COLUMNS
    assert frame["customer_id"].tolist() == ["00001", "00002"]  # ids keep their zeros; sorted
    assert frame["date"].tolist() == [pd.Timestamp("1997-01-01"), pd.Timestamp("1997-01-12")]
    assert frame["quantity"].dtype == "int64" and frame["amount"].tolist() == [11.77, 77.0]


def test_online_retail_drops_cancellations_and_anonymous_lines_and_sums_invoices() -> None:
    lines = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536365", "C536379", "536380", "536381"],
            "Quantity": [6, 2, -1, 3, 4],
            "UnitPrice": [2.55, 3.39, 27.5, 1.0, 2.0],
            "InvoiceDate": pd.to_datetime(
                ["2010-12-01 08:26"] * 2 + ["2010-12-01 09:41", "2010-12-02 10:00", "2010-12-03 11:00"]
            ),
            "CustomerID": [17850.0, 17850.0, 14527.0, None, 17850.0],
        }
    )
    frame = online_retail_transactions(lines)
    assert list(frame.columns) == COLUMNS
    assert frame["customer_id"].tolist() == ["17850", "17850"]
    assert frame["quantity"].tolist() == [8, 4]
    assert frame["amount"].round(2).tolist() == [22.08, 8.0]


def test_customer_features_by_hand() -> None:
    days = np.array(["1997-01-10", "1997-01-10", "1997-03-01", "1998-01-01"], dtype="datetime64[D]")
    got = customer_features(days, [10.0, 5.0, 20.0, 15.0], np.datetime64("1998-07-01"))
    assert got == {
        "recency_days": 181.0,
        "frequency": 3.0,  # two purchases on 1997-01-10 are one purchase day
        "monetary": 50.0,
        "tenure_days": 537.0,
        "avg_basket": 50.0 / 3,
        "mean_gap_days": 356.0 / 2,
    }


def test_one_time_buyer_gap_is_the_time_since_that_purchase() -> None:
    got = customer_features(np.array(["1998-06-01"], dtype="datetime64[D]"), [9.99], np.datetime64("1998-07-01"))
    assert got["frequency"] == 1 and got["mean_gap_days"] == got["recency_days"] == got["tenure_days"] == 30


def test_table_equals_the_per_customer_features_used_by_the_api(cfg, rows: pd.DataFrame, table: pd.DataFrame) -> None:
    assert table["customer_id"].is_unique and len(table) == rows["customer_id"].nunique()
    as_of = np.datetime64(cfg.data.table.snapshot)
    indexed = table.set_index("customer_id")
    for customer, history in list(rows.groupby("customer_id"))[:300]:
        expected = customer_features(history["date"].to_numpy(), history["amount"].to_numpy(), as_of)
        assert indexed.loc[customer, FEATURES].to_dict() == pytest.approx(expected), customer


def test_purchases_after_the_snapshot_are_ignored(cfg, rows: pd.DataFrame) -> None:
    earlier = OmegaConf.merge(cfg.data, {"table": {"snapshot": "1997-12-31"}})
    table = build_table(rows, earlier)
    assert table["recency_days"].min() >= 0
    assert len(table) == rows.loc[rows["date"] <= "1997-12-31", "customer_id"].nunique()


def test_robust_scaling_of_logged_features_centres_on_the_median(cfg, table: pd.DataFrame) -> None:
    frame = table[list(cfg.data.features.numeric)]
    scaled = build_preprocessor(cfg.data).fit_transform(frame)
    np.testing.assert_allclose(np.median(scaled, axis=0), 0, atol=1e-9)


@pytest.mark.parametrize("model", ["default", "gmm", "agglomerative"])
def test_models_find_the_requested_number_of_clusters(cfg, table: pd.DataFrame, model: str) -> None:
    model_cfg = compose(ROOT / "configs", [f"model={model}"]).model
    frame = table[list(cfg.data.features.numeric)]
    pipeline = fit_model(model_cfg, cfg.data, frame, n_clusters=4)
    assert len(set(pipeline.predict(frame))) == 4
    assert centres(pipeline).shape == (4, len(cfg.data.features.numeric))


RULES = {"recent_days": 180, "lapsed_days": 365, "repeat_purchases": 2}
OVERALL = {"median_monetary": 43.0, "q75_monetary": 106.0, "q90_monetary": 230.0}


@pytest.mark.parametrize(
    ("recency", "frequency", "monetary", "name"),
    [
        (40, 14, 660, "champions"),
        (90, 6, 160, "loyal"),
        (30, 1, 20, "new"),
        (230, 3, 225, "can't lose them"),
        (200, 2.5, 54, "at risk"),
        (300, 1, 30, "about to sleep"),
        (465, 2.5, 66, "hibernating"),
        (505, 1, 80, "lost"),
    ],
)
def test_rfm_names(recency: float, frequency: float, monetary: float, name: str) -> None:
    row = {"median_recency_days": recency, "mean_frequency": frequency, "mean_monetary": monetary}
    assert rfm_name(row, OVERALL, RULES) == name


def test_segments_with_one_name_are_told_apart_by_spend(cfg) -> None:
    profile = pd.DataFrame(
        {
            "segment": [0, 1, 2],
            "share": [0.3, 0.2, 0.5],
            "median_recency_days": [500, 502, 40],
            "mean_frequency": [1.0, 1.0, 12.0],
            "mean_monetary": [13.0, 82.0, 600.0],
        }
    )
    names = name_segments(profile, OVERALL, cfg.data)
    assert names == {0: "lost (low spend)", 1: "lost (high spend)", 2: "champions"}
