"""Pure functions: parsing, engineered features, the model factory, the interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlcore.foundation.config import compose
from mlcore.tasks.metrics import conformal_halfwidth

from housing_price.data import ames_txt_columns, canonical, parse_raw
from housing_price.features import ENGINEERED, engineer
from housing_price.model import build_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg():
    return compose(ROOT / "configs", ["data=sample"])


@pytest.fixture(scope="module")
def sample(cfg) -> pd.DataFrame:
    return parse_raw(ROOT / cfg.data.source.path, cfg.data)


def test_engineered_features() -> None:
    house = pd.DataFrame(
        {"Gr_Liv_Area": [1500.0], "Total_Bsmt_SF": [np.nan], "Year_Sold": [2010.0], "Year_Built": [1990.0],
         "Year_Remod_Add": [2005.0], "Full_Bath": [2.0], "Half_Bath": [1.0], "Bsmt_Full_Bath": [1.0], "Bsmt_Half_Bath": [0.0]}
    )  # fmt: skip
    out = engineer(house)
    assert out[ENGINEERED].iloc[0].tolist() == [1500.0, 20.0, 5.0, 3.5]
    assert "Total_Living_Area" not in house


def test_engineer_skips_what_a_dataset_lacks() -> None:
    assert list(engineer(pd.DataFrame({"median_income": [3.0]})).columns) == ["median_income"]


def test_canonical_marks_absent_features_and_types_numbers(cfg) -> None:
    raw = pd.DataFrame({c: [None] for c in [*cfg.data.features.numeric, *cfg.data.features.categorical]})
    raw[cfg.data.target] = ["200000"]
    out = canonical(raw, cfg.data)
    assert out["Alley"].iloc[0] == "None" and out[cfg.data.target].iloc[0] == 200000.0
    assert np.isnan(out["Gr_Liv_Area"].iloc[0])


def test_ames_txt_names_map_to_modeldata_names() -> None:
    assert ames_txt_columns(["Gr Liv Area", "SalePrice", "Year Remod/Add", "1st Flr SF", "MS Zoning"]) == [
        "Gr_Liv_Area", "Sale_Price", "Year_Remod_Add", "First_Flr_SF", "MS_Zoning",
    ]  # fmt: skip


def test_pickle_with_wrong_checksum_is_refused(cfg, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    data = OmegaConf.merge(compose(ROOT / "configs").data, {})
    bad = tmp_path / "ames.pkl.compress"
    bad.write_bytes(b"not the pickle")
    with pytest.raises(ValueError, match="refusing to unpickle"):
        parse_raw(bad, data)


@pytest.mark.parametrize("model", ["default", "ridge"])
def test_models_fit_and_respect_living_area(cfg, sample: pd.DataFrame, model: str) -> None:
    model_cfg = compose(ROOT / "configs", [f"model={model}"]).model
    x, y = sample.drop(columns=[cfg.data.target]), sample[cfg.data.target]
    pipeline = build_model(model_cfg, cfg.data).fit(x, y)
    assert (pipeline.predict(x) > 0).all()
    if model == "default":
        bigger = x.head(50).assign(Gr_Liv_Area=lambda f: f["Gr_Liv_Area"] + 300)
        assert (pipeline.predict(bigger) >= pipeline.predict(x.head(50)) - 1e-6).all()


def test_conformal_halfwidth_covers_the_requested_share() -> None:
    residuals = np.random.default_rng(0).normal(size=2000)
    assert np.mean(np.abs(residuals) <= conformal_halfwidth(residuals, 0.9)) == pytest.approx(0.9, abs=0.01)


def test_engineer_row_and_engineer_agree(cfg, sample: pd.DataFrame) -> None:
    from housing_price.features import engineer_row

    table = engineer(sample.head(200))
    for i, row in enumerate(sample.head(200).to_dict(orient="records")):
        one = engineer_row(row)
        for name in ENGINEERED:
            assert one[name] == pytest.approx(table[name].iloc[i], nan_ok=True)


def test_compiled_single_row_path_equals_the_pipeline(cfg, sample: pd.DataFrame) -> None:
    from mlcore import fastpath

    from housing_price.features import engineer_row

    x, y = sample.drop(columns=[cfg.data.target]), sample[cfg.data.target]
    pipeline = build_model(compose(ROOT / "configs").model, cfg.data).fit(x, y)
    compiled = fastpath.compile(pipeline, skip=("engineer",))  # the predictor applies engineer_row
    assert compiled is not None and compiled.kind == "tabular_gbm"
    probe = x.head(100).copy()
    probe.loc[probe.index[0], "Neighborhood"] = "Never_Seen_Before"
    probe.loc[probe.index[1], ["Lot_Frontage", "Garage_Area", "Alley"]] = [np.nan, np.nan, None]
    expected = pipeline.predict(probe)
    got = [compiled.predict_one(engineer_row(row)) for row in probe.to_dict(orient="records")]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
