"""Request and answer models of the API. Project-owned.

``Item`` is one request item (what ``POST /predict`` validates); ``Answer`` documents one answer.
The predictor is in ``predictor.py``.
"""

from __future__ import annotations

from mlcore.tasks.clustering import SegmentAnswer
from pydantic import BaseModel, ConfigDict, Field

EXAMPLE = {"eruptions": 3.6, "waiting": 79.0}


class Item(BaseModel):
    """One eruption."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    eruptions: float = Field(gt=0, le=10, description="Eruption length in minutes (0-10).")
    waiting: float = Field(gt=0, le=200, description="Minutes to the next eruption (0-200).")


Answer = SegmentAnswer
