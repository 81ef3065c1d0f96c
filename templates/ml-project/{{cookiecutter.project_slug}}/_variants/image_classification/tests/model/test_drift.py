"""Image drift: inverted, brightened or rotated images are flagged; held-out test images are not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlcore.lifecycle.artifacts import reference_profile
from mlcore.monitoring.drift import Thresholds, compare

from {{ cookiecutter.package_name }}.data import images_of
from {{ cookiecutter.package_name }}.predictor import load_predictor

pytestmark = pytest.mark.slow  # every test here uses the trained pipeline


def drifted(frame: pd.DataFrame, profile: dict[str, Any], thresholds: Any) -> bool:
    return bool(compare(profile, frame, Thresholds(**thresholds))["drift_detected"])


def test_shifted_images_drift_and_held_out_images_do_not(trained: dict[str, Any]) -> None:
    root, cfg = Path(trained["root"]), trained["cfg"]
    model = load_predictor(root / cfg.paths.model)
    profile = reference_profile(root / cfg.paths.model)
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet")
    images = images_of(test, 28, 28)
    frame = lambda imgs: model.signals(imgs, *model.forward(imgs))  # noqa: E731
    assert not drifted(frame(images), profile, cfg.monitor.thresholds)
    inverted = 255 - images
    brighter = np.clip(images.astype(int) + 80, 0, 255).astype(np.uint8)
    rotated = np.rot90(images, 1, axes=(1, 2)).copy()
    for shifted in (inverted, brighter, rotated):
        assert drifted(frame(shifted), profile, cfg.monitor.thresholds)
