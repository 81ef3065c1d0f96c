"""Pure functions: parsing, the entity table, preprocessing, the model factory, choosing k."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlcore.foundation.config import compose
from mlcore.tasks.clustering import centres
from omegaconf import OmegaConf

from {{ cookiecutter.package_name }}.data import parse_raw
from {{ cookiecutter.package_name }}.features import build_preprocessor, build_table
from {{ cookiecutter.package_name }}.model import fit_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg():
    return compose(ROOT / "configs")


@pytest.fixture(scope="module")
def table(cfg) -> pd.DataFrame:
    return build_table(parse_raw(ROOT / cfg.data.source.path, cfg.data), cfg.data)


def test_parse_raw_keeps_the_features(cfg) -> None:
    frame = parse_raw(ROOT / cfg.data.source.path, cfg.data)
    assert set(cfg.data.features.numeric) <= set(frame.columns)
    assert all(pd.api.types.is_float_dtype(frame[c]) for c in cfg.data.features.numeric)


def test_parse_raw_names_missing_columns(cfg, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=cfg.data.features.numeric[0]):
        parse_raw(path, cfg.data)


def test_table_has_the_model_and_profile_columns(cfg, table: pd.DataFrame) -> None:
    assert set(cfg.data.features.numeric) | set(cfg.data.features.profile) <= set(table.columns)
    assert table[list(cfg.data.features.numeric)].notna().all().all()


def test_robust_scaling_centres_on_the_median(cfg, table: pd.DataFrame) -> None:
    if cfg.data.features.get("log"):
        pytest.skip("log-transformed features are not centred on their raw median")
    scaled = build_preprocessor(cfg.data).fit_transform(table[list(cfg.data.features.numeric)])
    np.testing.assert_allclose(np.median(scaled, axis=0), 0, atol=1e-9)


def test_log_features_are_transformed(cfg, table: pd.DataFrame) -> None:
    data = OmegaConf.merge(cfg.data, {"features": {"log": [cfg.data.features.numeric[0]]}})
    frame = table[list(cfg.data.features.numeric)]
    out = build_preprocessor(data).fit_transform(frame)
    assert out.shape == frame.shape


@pytest.mark.parametrize("model", ["default", "gmm", "agglomerative"])
def test_models_find_the_requested_number_of_clusters(cfg, table: pd.DataFrame, model: str) -> None:
    model_cfg = compose(ROOT / "configs", [f"model={model}"]).model
    frame = table[list(cfg.data.features.numeric)].head(1500)
    pipeline = fit_model(model_cfg, cfg.data, frame, n_clusters=3)
    labels = pipeline.predict(frame)
    assert len(set(labels)) == 3
    assert centres(pipeline).shape == (3, len(cfg.data.features.numeric))
