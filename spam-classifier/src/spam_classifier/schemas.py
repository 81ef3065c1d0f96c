"""Request and answer models of the API. Project-owned.

``Item`` is one request item (what ``POST /predict`` validates); ``Answer`` documents one answer.
The predictor that turns one into the other is in ``predictor.py``.
"""

from __future__ import annotations

from mlcore.serving.fields import ReadableText
from pydantic import BaseModel, ConfigDict, Field


class Item(BaseModel):
    """One message to classify."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "WINNER! Claim your prize now"}]}
    )
    text: ReadableText = Field(
        min_length=1, max_length=10_000, description="The message text (1 to 10,000 characters, some visible)."
    )


class Answer(BaseModel):
    """One answer: the label, the positive label's probability and the decision threshold."""

    model_config = ConfigDict(
        extra="allow",  # plus "<positive label>_probability", e.g. spam_probability
        json_schema_extra={"examples": [{"label": "spam", "spam_probability": 0.97, "threshold": 0.34}]},
    )
    label: str = Field(description="The predicted label (positive when the probability reaches the threshold).")
    threshold: float = Field(description="Decision threshold on the positive label's probability.")
