"""The served predictor and this project's ``SERVED`` contract. Project-owned.

``Predictor`` turns request items (``schemas.Item``) into answers and logged traffic into the drift
signals that ``monitor`` compares with the training reference. ``SERVED``
(``mlcore.foundation.served.ServedModel``) is everything the API, the monitor, the smoke check, the
train stage and the MLflow pyfunc flavor read of this project's serving code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore.foundation.served import ServedModel, ServedPredictor
from mlcore.lifecycle import flavors
from mlcore.tasks import tree_shap
from mlcore.tasks.metrics import interval
from pydantic import BaseModel

from .schemas import Answer, Item


class Predictor(ServedPredictor):
    """A fitted regression pipeline with its conformal interval (half-width on the ``scale``
    it was calibrated on: ``log`` for a relative interval, ``linear`` for one in target units)."""

    def __init__(
        self, pipeline: Any, halfwidth: float, coverage: float, features: Sequence[str], scale: str = "log"
    ) -> None:
        self.pipeline = pipeline
        self.halfwidth = float(halfwidth)
        self.coverage = float(coverage)
        self.features = list(features)
        self.scale = scale

    def frame(self, rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame([{name: row.get(name) for name in self.features} for row in rows]).astype(
            {name: float for name in self.features if name in {"carat", "depth", "table", "x", "y", "z"}}
        )

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline.predict(frame), dtype=float)

    def predict(self, items: Sequence[BaseModel]) -> list[dict[str, Any]]:
        preds = self.values(self.frame([item.model_dump() for item in items]))
        lows, highs = interval(preds, self.halfwidth, self.scale)
        return [
            {
                "prediction": round(float(p), 2),
                "interval": [round(float(low), 2), round(float(high), 2)],
                "interval_coverage": self.coverage,
            }
            for p, low, high in zip(preds, lows, highs, strict=True)
        ]

    @cached_property
    def shap(self) -> tree_shap.TreeShap:
        """The tree explainer of the pipeline (loads scikit-learn and shap on the first ``/explain``)."""
        return tree_shap.TreeShap.of(self.pipeline)

    def explain(self, items: Sequence[BaseModel], top: int = 10) -> list[dict[str, Any]]:
        """Each answer with the exact SHAP value of every input field (``mlcore.tasks.tree_shap``)."""
        matrix, fields = self.shap.inputs(self.frame([item.model_dump() for item in items]))
        return tree_shap.explained(self.shap, matrix, fields, self.predict(items), unit="target", top=top)

    def drift_frame(
        self, inputs: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]] | None = None
    ) -> pd.DataFrame:
        frame = self.frame(inputs)
        frame["prediction"] = [row["prediction"] for row in outputs] if outputs is not None else self.values(frame)
        return frame


# Read-only endpoints the API adds for this model (path -> function of the loaded predictor).
ENDPOINTS: dict[str, Callable[[Any], Any]] = {}


def request_items(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the canonical table as API request items (demo traffic, benchmarks, tests)."""
    fields = list(Item.model_fields)
    return [{k: v for k, v in row.items() if k in fields} for row in frame[fields].to_dict(orient="records")]


def load_predictor(model_dir: Path) -> Predictor:
    """Load a model folder written by MLflow (registry download or local export)."""
    files = flavors.load(model_dir)
    meta = files.metadata
    return Predictor(
        files.model, meta["interval_halfwidth"], meta["interval_coverage"], meta["features"], meta["interval_scale"]
    )


SERVED = ServedModel(
    package="{{ cookiecutter.package_name }}",
    home=f"{__name__}:SERVED",
    item=Item,
    answer=Answer,
    load=load_predictor,
    request_items=request_items,
    endpoints=ENDPOINTS,
)
