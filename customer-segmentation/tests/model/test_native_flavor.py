"""The native flavor (``mlflow.sklearn``, for people who want the estimator) answers every row of
the documented input (a frame of the features) with the segment ``POST /predict`` gives."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from customer_segmentation.predictor import SERVED
from customer_segmentation.schemas import Item

pytestmark = pytest.mark.slow  # every test here uses the trained pipeline

ROWS = 20


def test_the_native_model_answers_every_row_as_the_api(trained: dict[str, Any]) -> None:
    import mlflow.sklearn

    root, cfg = trained["root"], trained["cfg"]
    native = mlflow.sklearn.load_model(str(root / cfg.paths.model))
    served = SERVED.load(root / cfg.paths.model)
    rows = SERVED.request_items(pd.read_parquet(root / cfg.paths.processed / "test.parquet").head(ROWS))
    answers = served.predict([Item.model_validate(row) for row in rows])
    segments = native.predict(pd.DataFrame(rows)[served.features])
    assert len(segments) == ROWS, "one answer per row of the frame"
    assert [int(s) for s in segments] == [answer["segment"] for answer in answers]
