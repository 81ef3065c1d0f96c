"""Request and answer models of the API. Project-owned.

``Item`` is one request item (what ``POST /predict`` validates); ``Answer`` documents one answer.
Numeric fields may be left out (the model imputes them); a value outside its range, or an unknown
category, is rejected with 422 naming the field. The predictor is in ``predictor.py``.
"""

from __future__ import annotations

from typing import Literal

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
