"""The native flavor (``mlflow.sklearn``, for people who want the estimator) answers every row of
the documented input, as ``POST /predict`` does, and refuses any other shape with a clear error."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.predictor import SERVED
from {{ cookiecutter.package_name }}.schemas import Item

pytestmark = pytest.mark.slow  # every test here uses the trained pipeline

ROWS = 20


@pytest.fixture(scope="module")
def native(trained: dict[str, Any]) -> Any:
    import mlflow.sklearn

    return mlflow.sklearn.load_model(str(trained["root"] / trained["cfg"].paths.model))


@pytest.fixture(scope="module")
def test_rows(trained: dict[str, Any]) -> pd.DataFrame:
    root, cfg = trained["root"], trained["cfg"]
    return pd.read_parquet(root / cfg.paths.processed / "test.parquet").head(ROWS)[["text"]]


def test_the_native_model_answers_every_row_of_the_documented_frame(
    native: Any, test_rows: pd.DataFrame, trained: dict[str, Any]
) -> None:
    served = SERVED.load(trained["root"] / trained["cfg"].paths.model)
    answers = served.predict([Item(text=text) for text in test_rows["text"]])
    expected = np.array([answer[served.key] for answer in answers])
    from_frame = native.predict_proba(test_rows)[:, 1]
    assert len(from_frame) == ROWS, "one answer per row of the frame"
    np.testing.assert_allclose(from_frame, expected, atol=1e-6)
    np.testing.assert_allclose(native.predict_proba(test_rows["text"])[:, 1], from_frame)
    np.testing.assert_allclose(
        native.predict_proba(test_rows.head(3))[:, 1], from_frame[:3]
    )  # the input example's shape


def test_the_native_model_refuses_other_shapes_with_a_clear_error(native: Any, test_rows: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'text' column"):
        native.predict_proba(test_rows.rename(columns={"text": "message"}))
    with pytest.raises(TypeError, match="expected a text"):
        native.predict_proba(pd.Series([1, 2]))
