"""Pure functions: parsing, preprocessing, the model factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlcore.config import compose
from omegaconf import OmegaConf

from {{ cookiecutter.package_name }}.data import parse_raw
from {{ cookiecutter.package_name }}.features import build_preprocessor
from {{ cookiecutter.package_name }}.model import build_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg():
    return compose(ROOT / "configs")


def test_parse_raw_keeps_the_features(cfg) -> None:
    frame = parse_raw(ROOT / cfg.data.source.path, cfg.data)
    assert list(frame.columns) == list(cfg.data.features.numeric)
    assert all(pd.api.types.is_float_dtype(dtype) for dtype in frame.dtypes)


def test_parse_raw_names_missing_columns(cfg, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=cfg.data.features.numeric[0]):
        parse_raw(path, cfg.data)


def test_robust_scaling_centres_on_the_median(cfg) -> None:
    frame = parse_raw(ROOT / cfg.data.source.path, cfg.data)
    scaled = build_preprocessor(cfg.data).fit_transform(frame)
    np.testing.assert_allclose(np.median(scaled, axis=0), 0, atol=1e-9)


def test_log_features_are_transformed(cfg) -> None:
    data = OmegaConf.merge(cfg.data, {"features": {"log": [cfg.data.features.numeric[0]]}})
    frame = parse_raw(ROOT / cfg.data.source.path, cfg.data)
    out = build_preprocessor(data).fit_transform(frame)
    assert out.shape == frame.shape


@pytest.mark.parametrize("model", ["default", "gmm"])
def test_models_find_the_configured_number_of_clusters(cfg, model: str) -> None:
    model_cfg = compose(ROOT / "configs", [f"model={model}"]).model
    frame = parse_raw(ROOT / cfg.data.source.path, cfg.data)
    labels = build_model(model_cfg, cfg.data).fit(frame).predict(frame)
    assert len(set(labels)) == model_cfg.n_clusters
