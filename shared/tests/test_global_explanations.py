"""mlcore.tasks.global_explanations: the served predictor's explanations summed up at evaluation,
and drawn by write_plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mlcore.tasks.global_explanations import summarise
from mlcore.tasks.metrics import write_plots


def answer(label: str, **why: object) -> dict:
    return {"label": label, "explanation": {"method": "m", "output": "o", "terms": [], **why}}


def test_fields_are_ranked_by_their_mean_size_counting_unlisted_as_zero(tmp_path: Path) -> None:
    explained = [
        answer("a", terms=[{"name": "x", "contribution": -2.0}, {"name": "y", "contribution": 0.5}]),
        answer("a", terms=[{"name": "y", "contribution": 1.5}]),
    ]
    scored = summarise(explained)
    table = scored.tables["explanation_terms"]
    assert list(table["term"]) == ["x", "y"]
    assert table["importance"].tolist() == pytest.approx([1.0, 1.0]) and table["listed"].tolist() == [1, 2]
    assert scored.metrics == {"explained_items": 2.0}
    assert {p.name for p in write_plots(scored.tables, tmp_path)} == {"explanation_terms.csv", "explanation_terms.png"}


def test_words_are_grouped_by_label_seen_twice_and_lowercased() -> None:
    words = lambda *pairs: [{"name": n, "contribution": c} for n, c in pairs]  # noqa: E731
    explained = [
        answer("spam", words=words(("FREE", 2.0), ("now", 0.1), ("!", 5.0))),
        answer("spam", words=words(("free", 1.0), ("once", 9.0))),
        answer("ham", words=words(("see", 0.4), ("you", 0.2), ("see", 0.6))),
    ]
    table = summarise(explained).tables["explanation_terms"]
    assert set(zip(table["label"], table["term"], strict=True)) == {
        ("spam", "free"),
        ("ham", "see"),
    }  # "!" has no letter
    assert table.set_index("term").loc["free", "importance"] == pytest.approx(1.5)


def test_occlusion_maps_are_averaged_per_class(tmp_path: Path) -> None:
    ones, twos = np.ones((4, 4)), np.full((4, 4), 3.0)
    explained = [
        answer("shoe", heatmap=ones.tolist()),
        answer("shoe", heatmap=twos.tolist()),
        answer("bag", heatmap=ones.tolist()),
    ]
    table = summarise(explained).tables["explanation_maps"]
    assert list(table["label"]) == ["bag", "shoe"] and list(table["items"]) == [1, 2]
    assert np.array(table.iloc[1]["heat"].split(), dtype=float).tolist() == [2.0] * 16
    assert (tmp_path / "explanation_maps.png") in write_plots({"explanation_maps": table}, tmp_path)


def test_nothing_explained_gives_no_table() -> None:
    assert summarise([]).tables == {} and summarise([]).metrics == {}


def test_exact_explanations_with_values_give_a_beeswarm_and_dependence(tmp_path: Path) -> None:
    explained = [
        answer("a", exact=True, terms=[{"name": "area", "value": v, "contribution": v / 10},
                                       {"name": "town", "value": "north", "contribution": -0.1}])
        for v in (1.0, 2.0, 3.0)
    ]  # fmt: skip
    tables = summarise(explained).tables
    swarm = tables["explanation_beeswarm"]
    assert swarm[swarm["term"] == "area"]["value_rank"].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert swarm[swarm["term"] == "town"]["value_rank"].isna().all()  # a category has no rank
    assert set(tables["explanation_dependence"]["term"]) == {"area"}
    written = {p.name for p in write_plots(tables, tmp_path)}
    assert {"explanation_beeswarm.png", "explanation_dependence.png"} <= written
