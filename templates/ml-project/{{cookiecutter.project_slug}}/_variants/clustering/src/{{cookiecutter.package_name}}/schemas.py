"""API schema and predictor. Project-owned."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore.fastcluster import compile_pipeline
from pydantic import BaseModel, ConfigDict, Field

from .model import centres

EXAMPLE = {"eruptions": 3.6, "waiting": 79.0}
SEGMENTS_FILE = Path("extra_files") / "segments.json"


class Item(BaseModel):
    """One eruption."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    eruptions: float = Field(gt=0, le=10, description="Eruption length in minutes (0-10).")
    waiting: float = Field(gt=0, le=200, description="Minutes to the next eruption (0-200).")


class Predictor:
    """A fitted clustering pipeline: segment id and name, distance to the segment's centre."""

    def __init__(
        self,
        pipeline: Any,
        features: Sequence[str],
        options: Mapping[str, Any] | None = None,
        segments: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.pipeline = pipeline
        self.features = list(features)
        self.options = dict(options or {})
        self.preprocess = pipeline[:-1]
        self.centres = centres(pipeline)
        # numpy copy of the pipeline for the request path (None for models it cannot express)
        self.compiled = compile_pipeline(pipeline, self.features)
        self.segments = [dict(s) for s in segments]

    @property
    def names(self) -> dict[int, str]:
        return {int(s["segment"]): str(s["name"]) for s in self.segments}

    def frame(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame([{name: row.get(name) for name in self.features} for row in rows], dtype=float)

    def assign(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Segment id and distance to its centre for each row of ``frame``."""
        return self.assign_matrix(frame[self.features].to_numpy(dtype=float))

    def assign_matrix(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.compiled is not None:
            return self.compiled.assign(matrix)
        points = np.asarray(self.preprocess.transform(pd.DataFrame(matrix, columns=self.features)), dtype=float)
        labels = np.asarray(self.pipeline[-1].predict(points), dtype=int)
        return labels, np.linalg.norm(points - self.centres[labels], axis=1)

    def predict(self, items: Sequence[BaseModel]) -> list[dict[str, Any]]:
        matrix = np.array([[getattr(item, name) for name in self.features] for item in items], dtype=float)
        labels, distances = self.assign_matrix(matrix)
        names = self.names
        return [
            {"segment": int(s), "segment_name": names.get(int(s), f"segment {s}"), "distance": round(float(d), 4)}
            for s, d in zip(labels, distances, strict=True)
        ]

    def describe(self) -> dict[str, Any]:
        """What GET /segments returns: every segment's profile."""
        return {"features": self.features, "segments": self.segments}

    def drift_frame(
        self, inputs: Sequence[Mapping[str, Any]], outputs: Sequence[Mapping[str, Any]] | None = None
    ) -> pd.DataFrame:
        frame = self.frame(inputs)
        labels = [row["segment"] for row in outputs] if outputs is not None else self.assign(frame)[0]
        frame["segment"] = [str(s) for s in labels]
        return frame


def request_items(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the entity table as API request items (demo traffic, benchmarks, tests)."""
    return frame[list(Item.model_fields)].to_dict(orient="records")


def load_predictor(model_dir: Path) -> Predictor:
    """Load a model folder written by MLflow (registry download or local export)."""
    import mlflow.sklearn
    from mlflow.models import Model

    meta = Model.load(str(model_dir)).metadata or {}
    segments_path = Path(model_dir) / SEGMENTS_FILE
    segments = json.loads(segments_path.read_text(encoding="utf-8"))["segments"] if segments_path.exists() else []
    return Predictor(mlflow.sklearn.load_model(str(model_dir)), meta["features"], meta.get("table"), segments)
