"""The native flavor (``mlflow.sklearn``, for people who want the estimator) answers every row of
the documented input (a frame of the request's fields, as the model's input example) as
``POST /predict`` does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.predictor import SERVED
from {{ cookiecutter.package_name }}.schemas import Item

pytestmark = pytest.mark.slow  # every test here uses the trained pipeline

ROWS = 20


def test_the_native_model_answers_every_row_as_the_api(trained: dict[str, Any]) -> None:
    import mlflow.sklearn

    root, cfg = trained["root"], trained["cfg"]
    native = mlflow.sklearn.load_model(str(root / cfg.paths.model))
    rows = SERVED.request_items(pd.read_parquet(root / cfg.paths.processed / "test.parquet").head(ROWS))
    answers = SERVED.load(root / cfg.paths.model).predict([Item.model_validate(row) for row in rows])
    predicted = native.predict(pd.DataFrame(rows, columns=list(Item.model_fields)))
    assert len(predicted) == ROWS, "one answer per row of the frame"
    np.testing.assert_allclose(predicted, [answer["prediction"] for answer in answers], atol=0.006)
