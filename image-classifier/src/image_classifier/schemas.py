"""Request and answer models of the API. Project-owned.

``Item`` is one image (base64 in JSON; the API also takes multipart uploads and turns each file
into an ``Item``); ``Answer`` documents one answer. The predictor is in ``predictor.py``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

# What ``base64.b64decode(..., validate=True)`` takes (the OpenAPI document states it; the check is
# the predictor's, with a message for the client).
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"

# A 28x28 PNG of a dark square (a valid, tiny example for the docs).
_EXAMPLE = (
    "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAAAFklEQVR4nGNgGAWjYBSMglEwCoYmAAAHHAABBmPGzgAAAABJRU5ErkJggg=="
)


class Item(BaseModel):
    """One image: PNG, JPEG (any size or colour), base64-encoded."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"image": _EXAMPLE}]})
    image: str = Field(
        min_length=4,  # one byte, base64-encoded: any non-empty file reaches the image check (415)
        max_length=14_000_000,
        description="The image file's bytes, base64-encoded (standard alphabet, padded): PNG, JPEG, GIF, BMP, WebP...",
        json_schema_extra={"pattern": BASE64, "contentEncoding": "base64", "contentMediaType": "image/*"},
    )
    _signals: dict[str, Any] | None = PrivateAttr(default=None)  # set by predict, read by the prediction log


class Guess(BaseModel):
    label: str
    probability: float


class Answer(BaseModel):
    """One answer: the most likely label, its probability and the top 3."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "label": "Sneaker",
                    "probability": 0.97,
                    "top": [{"label": "Sneaker", "probability": 0.97}, {"label": "Sandal", "probability": 0.02}],
                }
            ]
        }
    )
    label: str
    probability: float
    top: list[Guess] = Field(description="The three most likely labels, most likely first.")
