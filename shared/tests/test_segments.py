"""Segment profiles, names and the HTML report."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlcore.tasks.segments import (
    as_records,
    choose_k,
    describe_names,
    overall_stats,
    profile,
    segment_colours,
    unique_names,
    write_report,
)


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    low = pd.DataFrame({"a": rng.normal(0, 1, 60), "b": rng.normal(10, 1, 60), "spend": rng.uniform(1, 2, 60)})
    high = pd.DataFrame({"a": rng.normal(8, 1, 40), "b": rng.normal(10, 1, 40), "spend": rng.uniform(10, 20, 40)})
    return pd.concat([low, high], ignore_index=True)


def test_profile_sizes_shares_and_means(table: pd.DataFrame) -> None:
    labels = np.array([0] * 60 + [1] * 40)
    prof = profile(table, labels, ["a", "b"], value="spend")
    assert prof["size"].tolist() == [60, 40]
    assert prof["share"].tolist() == [0.6, 0.4]
    assert prof["value_share"].sum() == pytest.approx(1.0)
    assert prof.loc[1, "value_share"] > 0.8  # the high spenders hold most of the value
    assert prof.loc[0, "mean_a"] == pytest.approx(table["a"][:60].mean())


def test_generic_names_follow_the_most_different_feature(table: pd.DataFrame) -> None:
    labels = np.array([0] * 60 + [1] * 40)
    names = describe_names(profile(table, labels, ["a", "b"]), ["a", "b"], overall_stats(table, ["a", "b"]))
    assert names == {0: "low a", 1: "high a"}


def test_repeated_names_are_numbered_or_tiered() -> None:
    prof = pd.DataFrame({"segment": [0, 1, 2, 3], "share": [0.2, 0.5, 0.3, 0.1], "spend": [5.0, 1.0, 9.0, 3.0]})
    names = {0: "loyal", 1: "loyal", 2: "lost", 3: "lost"}
    assert unique_names(names, prof) == {0: "loyal (2)", 1: "loyal", 2: "lost", 3: "lost (2)"}
    tiered = unique_names({**names, 1: "lost"}, prof, order_by="spend", tier_label="spend")
    assert tiered == {0: "loyal", 1: "lost (low spend)", 2: "lost (high spend)", 3: "lost (mid spend)"}


def test_report_is_one_self_contained_page(table: pd.DataFrame, tmp_path: Path) -> None:
    labels = np.array([0] * 60 + [1] * 40)
    records = as_records(profile(table, labels, ["a", "b"], value="spend"), {0: "small <b>", 1: "big"})
    curve = pd.DataFrame({"k": [2, 3], "silhouette": [0.6, 0.4], "davies_bouldin": [0.5, 0.9]})
    path = write_report(
        tmp_path / "r.html",
        title="t",
        records=records,
        table=table,
        labels=labels,
        projection=table[["a", "b"]].to_numpy(),
        columns=["a", "b"],
        metrics={"test_silhouette": 0.6},
        curve=curve,
        k_choice="k = 2: the best rank sum",
    )
    page = path.read_text()
    assert page.count("data:image/png;base64,") == 4
    assert "small &lt;b&gt;" in page and "big" in page  # names are escaped
    assert "60.0%" in page and not list(tmp_path.glob("*.tmp"))
    headers = re.findall(r"<th>([^<]*)</th>", page)
    assert "Share of value" in headers and "Mean a" in headers
    assert not any("_" in h for h in headers), headers  # people read the table, not column names
    assert "Test silhouette" in page
    assert page.count("k = 2: the best rank sum") == 2  # above the profiles and under the curve
    assert ".scroll{overflow-x:auto" in page  # a wide table scrolls inside the page
    colours = segment_colours([0, 1])
    assert re.findall(r"class=swatch style='background:(#[0-9a-f]{6})'", page) == [colours[0], colours[1]]
    assert len(set(colours.values())) == 2


def test_choose_k_uses_both_scores_and_the_constraints() -> None:
    curve = pd.DataFrame(
        {
            "k": [2, 3, 4, 5],
            "silhouette": [0.60, 0.55, 0.58, 0.40],
            "davies_bouldin": [0.90, 0.70, 0.60, 1.20],
            "min_share": [0.40, 0.20, 0.01, 0.10],
        }
    )
    assert choose_k(curve) == 4  # rank sums: k=2: 1 + 3, k=3: 3 + 2, k=4: 2 + 1, k=5: 4 + 4
    assert choose_k(curve, min_share=0.02) == 2  # without k=4: k=2 and k=3 tie, the smaller wins
    assert choose_k(curve, min_k=3, min_share=0.02) == 3
    assert choose_k(curve, min_k=3) == 4
    with pytest.raises(ValueError, match="choose_min"):
        choose_k(curve, min_k=6)
