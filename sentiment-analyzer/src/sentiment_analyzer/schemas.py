"""Request and answer models of the API. Project-owned.

``Item`` is one text (what ``POST /predict`` validates); ``Answer`` documents one answer. The
predictor is in ``predictor.py``.
"""

from __future__ import annotations

from typing import Any

from mlcore.serving.fields import ReadableText
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

MAX_CHARS = 5_000  # longer texts are refused (422); the model reads the first max_length tokens


class Item(BaseModel):
    """One text to score."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "A gorgeous, witty, seductive movie."}]}
    )
    text: ReadableText = Field(
        min_length=1, max_length=MAX_CHARS, description=f"The text (1 to {MAX_CHARS:,} characters, some visible)."
    )
    _signals: dict[str, Any] | None = PrivateAttr(default=None)  # set by predict, read by the prediction log


class Answer(BaseModel):
    """One answer: the label, its probability, the positive probability and whether the text was cut."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"label": "positive", "probability": 0.97, "positive_probability": 0.97, "truncated": False}]
        }
    )
    label: str
    probability: float = Field(description="The probability of the predicted label.")
    positive_probability: float = Field(description="The probability that the text is positive.")
    truncated: bool = Field(description="True when the text was longer than the model reads (max_length tokens).")
