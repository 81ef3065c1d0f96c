"""The served predictor and this project's ``SERVED`` contract. Project-owned.

``Predictor`` turns request items (``schemas.Item``) into segments and logged traffic into the
drift signals that ``monitor`` compares with the training reference. ``SERVED``
(``mlcore.foundation.served.ServedModel``) is everything the API, the monitor, the smoke check, the
train stage and the MLflow pyfunc flavor read of this project's serving code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlcore.foundation.served import ServedModel
from mlcore.tasks.clustering import ClusterPredictor

from .schemas import Answer, Item


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


SERVED = ServedModel(
    package="{{ cookiecutter.package_name }}",
    home=f"{__name__}:SERVED",
    item=Item,
    answer=Answer,
    load=load_predictor,
    request_items=request_items,
    endpoints=ENDPOINTS,
)
