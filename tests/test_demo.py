"""`make demo`'s scheduling (tools/demo.py): the networks alone in one lane, the rest beside them at
the lowest CPU priority."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from demo import LOWEST_PRIORITY, NETWORKS, lanes_of, run

NAMES = ["customer-segmentation", "housing-price", "image-classifier", "sentiment-analyzer", "spam-classifier"]


def test_two_lanes_keep_the_networks_apart_from_the_rest() -> None:
    networks, others = lanes_of(NAMES, 2)
    assert networks == list(NETWORKS), "the networks train one after another, never side by side"
    assert others == ["customer-segmentation", "housing-price", "spam-classifier"]


def test_one_lane_runs_everything_one_after_another_networks_first() -> None:
    assert lanes_of(NAMES, 1) == [[*NETWORKS, "customer-segmentation", "housing-price", "spam-classifier"]]


def test_without_a_network_there_is_one_lane() -> None:
    assert lanes_of(["spam-classifier", "housing-price"], 2) == [["spam-classifier", "housing-price"]]


def test_the_second_lane_runs_at_the_lowest_priority(tmp_path: Path) -> None:
    probe = [sys.executable, "-c", "import os; print(os.nice(0))"]
    own = os.nice(0)
    assert run(probe, tmp_path, capture=True).stdout.strip() == str(own)
    lowered = run(probe, tmp_path, capture=True, nice=LOWEST_PRIORITY).stdout.strip()
    assert lowered == str(min(19, own + LOWEST_PRIORITY))
