"""API schema and predictor. Project-owned."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

EXAMPLE = {"eruptions": 3.6, "waiting": 79.0}


class Item(BaseModel):
    """One eruption."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    eruptions: float = Field(gt=0, le=10, description="Eruption length in minutes (0-10).")
    waiting: float = Field(gt=0, le=200, description="Minutes to the next eruption (0-200).")


class Predictor:
    """A fitted clustering pipeline: cluster id and distance to that cluster's centre."""

    def __init__(self, pipeline: Any, features: Sequence[str]) -> None:
        self.pipeline = pipeline
        self.features = list(features)
        self.preprocess = pipeline[:-1]
        model = pipeline[-1]
        self.centres = np.asarray(model.cluster_centers_ if hasattr(model, "cluster_centers_") else model.means_)

    def frame(self, rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame([{name: row.get(name) for name in self.features} for row in rows], dtype=float)

    def assign(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        points = np.asarray(self.preprocess.transform(frame), dtype=float)
        labels = np.asarray(self.pipeline[-1].predict(points), dtype=int)
        return labels, np.linalg.norm(points - self.centres[labels], axis=1)

    def predict(self, items: Sequence[BaseModel]) -> list[dict[str, Any]]:
        labels, distances = self.assign(self.frame([item.model_dump() for item in items]))
        return [{"cluster": int(c), "distance": round(float(d), 4)} for c, d in zip(labels, distances, strict=True)]

    def drift_frame(
        self, inputs: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]] | None = None
    ) -> pd.DataFrame:
        frame = self.frame(inputs)
        labels = [row["cluster"] for row in outputs] if outputs is not None else self.assign(frame)[0]
        frame["cluster"] = [str(c) for c in labels]
        return frame


def request_items(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the canonical table as API request items (demo traffic, benchmarks, tests)."""
    return frame[list(Item.model_fields)].to_dict(orient="records")


def load_predictor(model_dir: Path) -> Predictor:
    """Load a model folder written by MLflow (registry download or local export)."""
    import mlflow.sklearn
    from mlflow.models import Model

    meta = Model.load(str(model_dir)).metadata or {}
    return Predictor(mlflow.sklearn.load_model(str(model_dir)), meta["features"])
