"""Pure functions: parsing, engineered features, the model factory, the interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlcore.foundation.config import compose
from mlcore.tasks.metrics import conformal_halfwidth

from {{ cookiecutter.package_name }}.data import parse_raw
from {{ cookiecutter.package_name }}.features import engineer
from {{ cookiecutter.package_name }}.model import build_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg():
    return compose(ROOT / "configs")


def test_parse_raw_keeps_features_and_target(cfg) -> None:
    frame = parse_raw(ROOT / cfg.data.source.path, cfg.data)
    assert list(frame.columns) == [*cfg.data.features.numeric, *cfg.data.features.categorical, cfg.data.target]
    assert frame[cfg.data.target].dtype == float


def test_parse_raw_names_missing_columns(cfg, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("carat,price\n1,2\n")
    with pytest.raises(ValueError, match="cut"):
        parse_raw(path, cfg.data)


def test_engineer_adds_volume_without_touching_input() -> None:
    frame = pd.DataFrame({"x": [2.0], "y": [3.0], "z": [4.0]})
    out = engineer(frame)
    assert out["volume"].tolist() == [24.0]
    assert "volume" not in frame


@pytest.mark.parametrize("model", ["default", "ridge"])
def test_models_fit_and_predict_positive_values(cfg, model: str) -> None:
    model_cfg = compose(ROOT / "configs", [f"model={model}"]).model
    frame = parse_raw(ROOT / cfg.data.source.path, cfg.data).head(300)
    pipeline = build_model(model_cfg, cfg.data).fit(frame.drop(columns=[cfg.data.target]), frame[cfg.data.target])
    assert (pipeline.predict(frame.drop(columns=[cfg.data.target])) > 0).all()


def test_conformal_halfwidth_covers_the_requested_share() -> None:
    residuals = np.random.default_rng(0).normal(size=2000)
    width = conformal_halfwidth(residuals, 0.9)
    assert np.mean(np.abs(residuals) <= width) == pytest.approx(0.9, abs=0.01)
