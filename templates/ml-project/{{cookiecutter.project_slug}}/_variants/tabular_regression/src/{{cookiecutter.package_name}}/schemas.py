"""API schema and predictor. Project-owned.

Numeric fields may be left out (the model imputes them); a value outside its range, or an
unknown category, is rejected with 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from mlcore.lifecycle import flavors
from mlcore.tasks.metrics import interval
from pydantic import BaseModel, ConfigDict, Field

EXAMPLE = {
    "carat": 0.7,
    "cut": "Ideal",
    "color": "G",
    "clarity": "VS2",
    "depth": 61.5,
    "table": 56.0,
    "x": 5.7,
    "y": 5.72,
    "z": 3.51,
}


class Item(BaseModel):
    """One diamond."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    carat: float = Field(gt=0, le=6, description="Weight in carats (0-6).")
    cut: Literal["Fair", "Good", "Very Good", "Premium", "Ideal"] = Field(description="Cut quality.")
    color: Literal["D", "E", "F", "G", "H", "I", "J"] = Field(description="Colour, D (best) to J.")
    clarity: Literal["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"] = Field(
        description="Clarity, I1 (worst) to IF."
    )
    depth: float | None = Field(
        default=None, ge=40, le=80, description="Total depth percentage (40-80 %); imputed if missing."
    )
    table: float | None = Field(
        default=None,
        ge=40,
        le=100,
        description="Table width relative to the widest point (40-100 %); imputed if missing.",
    )
    x: float | None = Field(default=None, ge=0, le=12, description="Length in mm (0-12); imputed if missing.")
    y: float | None = Field(default=None, ge=0, le=60, description="Width in mm (0-60); imputed if missing.")
    z: float | None = Field(default=None, ge=0, le=35, description="Depth in mm (0-35); imputed if missing.")


class Answer(BaseModel):
    """One answer: the predicted value and its conformal interval."""

    prediction: float = Field(description="Predicted target value.")
    interval: list[float] = Field(min_length=2, max_length=2, description="[low, high] prediction interval.")
    interval_coverage: float = Field(description="Share of held-out values the interval covered (target).")


class Predictor:
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
