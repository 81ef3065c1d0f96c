"""API schema and predictor. Project-owned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlcore.tasks.clustering import ClusterPredictor, SegmentAnswer
from pydantic import BaseModel, ConfigDict, Field

EXAMPLE = {"eruptions": 3.6, "waiting": 79.0}


class Item(BaseModel):
    """One eruption."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    eruptions: float = Field(gt=0, le=10, description="Eruption length in minutes (0-10).")
    waiting: float = Field(gt=0, le=200, description="Minutes to the next eruption (0-200).")


Answer = SegmentAnswer


class Predictor(ClusterPredictor):
    """Segment id and name, distance to the segment's centre (see ``mlcore.tasks.clustering``). Override
    ``frame`` and ``predict`` when requests carry more than the feature fields."""


# Read-only endpoints the API adds for this model (path -> function of the loaded predictor).
ENDPOINTS = {"/segments": lambda predictor: predictor.describe()}


def request_items(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the entity table as API request items (demo traffic, benchmarks, tests)."""
    return frame[list(Item.model_fields)].to_dict(orient="records")


def load_predictor(model_dir: Path) -> Predictor:
    """Load a model folder written by MLflow (registry download or local export)."""
    return Predictor.load(model_dir)
