"""What every clustering project serves: a fitted pipeline that places rows into named segments.

``ClusterPredictor`` wraps a ``Pipeline([preprocessing, clusterer])``: segment id, segment name
and distance to the segment's centre for each request item, the segment profiles for
``GET /segments``, and the drift frame (features plus the served segment). A project subclasses it
where its requests need more than reading the feature fields (e.g. features computed from
transactions). ``robust_preprocessor`` is the default preprocessing (optional log1p, then robust
scaling), which ``mlcore.fastpath.nearest_centre`` compiles: a model served through its fast path
never loads scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from mlcore.fastpath import FastModel
from mlcore.foundation.served import ServedPredictor
from mlcore.lifecycle import flavors

SEGMENTS_FILE = "segments.json"  # shipped with the model (mlcore.lifecycle.artifacts extras)


def robust_preprocessor(numeric: Sequence[str], log: Sequence[str] = ()) -> Any:
    """ColumnTransformer: RobustScaler on ``numeric`` columns, after log1p for those in ``log``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, RobustScaler

    logged = [name for name in numeric if name in set(log)]
    plain = [name for name in numeric if name not in set(logged)]
    parts: list[tuple[str, Any, list[str]]] = [("plain", RobustScaler(), plain)]
    if logged:
        parts.append(("logged", Pipeline([("log", FunctionTransformer(np.log1p)), ("scale", RobustScaler())]), logged))
    return ColumnTransformer(parts)


def centres(pipeline: Any) -> np.ndarray:
    """Cluster centres in the scaled feature space, indexed by cluster id."""
    model = pipeline[-1]
    for name in ("cluster_centers_", "means_", "centroids_"):
        if hasattr(model, name):
            return np.asarray(getattr(model, name), dtype=float)
    raise TypeError(f"{type(model).__name__} has no cluster centres")


class SegmentAnswer(BaseModel):
    """One answer: the segment, its name and the distance to its centre."""

    segment: int = Field(description="Segment id.")
    segment_name: str = Field(description="The segment's name (see GET /segments).")
    distance: float = Field(description="Distance to the segment's centre in the model's scaled feature space.")


class ClusterPredictor(ServedPredictor):
    """A fitted clustering pipeline: segment id and name, distance to the segment's centre."""

    def __init__(
        self,
        model: Any,
        features: Sequence[str],
        options: Mapping[str, Any] | None = None,
        segments: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.features = list(features)
        # The fitted pipeline, or a FastModel whose numpy copy serves requests (native model on demand).
        self.model = FastModel.of(model, features=self.features)
        self.options = dict(options or {})  # how the entity table was built (data.table)
        self.segments = [dict(s) for s in segments]

    @property
    def pipeline(self) -> Any:
        return self.model.native

    @property
    def preprocess(self) -> Any:
        """The pipeline without its clusterer (rows -> the scaled feature space)."""
        return self.pipeline[:-1]

    @property
    def centres(self) -> np.ndarray:
        return centres(self.pipeline)

    @property
    def compiled(self) -> Any:
        """The compiled nearest-centre scorer, or None when the pipeline itself assigns."""
        return self.model.fast

    @classmethod
    def load(cls, model_dir: Path) -> ClusterPredictor:
        """Load a model folder written by MLflow (registry download or local export)."""
        files = flavors.load(model_dir)
        segments = files.extra(SEGMENTS_FILE, {"segments": []})["segments"]
        meta = files.metadata
        return cls(FastModel.from_files(files), meta["features"], meta.get("table"), segments)

    @property
    def names(self) -> dict[int, str]:
        return {int(s["segment"]): str(s["name"]) for s in self.segments}

    def frame(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Request items (as dicts) -> the model's feature columns."""
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

    def answers(self, matrix: np.ndarray) -> list[dict[str, Any]]:
        labels, distances = self.assign_matrix(matrix)
        names = self.names
        return [
            {"segment": int(s), "segment_name": names.get(int(s), f"segment {s}"), "distance": round(float(d), 4)}
            for s, d in zip(labels, distances, strict=True)
        ]

    def feature_matrix(self, items: Sequence[Any]) -> np.ndarray:
        """Items with one field per feature (pydantic models) -> rows of the model's features."""
        return np.array([[getattr(item, n) for n in self.features] for item in items], dtype=float)

    def predict(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Items -> segment answers."""
        return self.answers(self.feature_matrix(items))

    def explain(self, items: Sequence[Any], top: int = 10) -> list[dict[str, Any]]:
        """Why each item's segment and not the runner-up: per feature, its share of the squared
        distance margin between the two centres in the model's scaled space (exact: the shares sum
        to the margin), with the item's value and both centres' values in the input's units."""
        compiled = self.compiled
        if compiled is None:
            raise NotImplementedError("explanations need a nearest-centre model (compiled fast path)")
        matrix = self.feature_matrix(items)
        answers = self.predict(items)
        names = self.names
        explained = []
        for row, answer in zip(matrix, answers, strict=True):
            nearest, runner, parts = compiled.margin_parts(row)
            centres = compiled.original_units(compiled.centres[[nearest, runner]])
            terms = [
                {
                    "name": self.features[column],
                    "value": round(float(row[column]), 6),
                    "segment_centre": round(float(centres[0][i]), 6),
                    "runner_up_centre": round(float(centres[1][i]), 6),
                    "contribution": float(parts[i]),
                }
                for i, column in enumerate(compiled.order)
            ]
            terms.sort(key=lambda term: -abs(term["contribution"]))
            runner_id = int(compiled.labels[runner])
            explained.append(
                {
                    **answer,
                    "explanation": {
                        "method": "squared-distance margin to the runner-up segment, split per feature (exact)",
                        "output": "squared distance to the runner-up centre minus to the assigned one, scaled space",
                        "base_value": 0.0,
                        "value": float(parts.sum()),
                        "runner_up": {
                            "segment": runner_id,
                            "segment_name": names.get(runner_id, f"segment {runner_id}"),
                        },
                        "terms": terms[:top],
                        "rest": float(sum(term["contribution"] for term in terms[top:])),
                        "exact": True,
                    },
                }
            )
        return explained

    def describe(self) -> dict[str, Any]:
        """What GET /segments returns: every segment's profile."""
        return {"features": self.features, "segments": self.segments}

    def drift_frame(
        self, inputs: Sequence[Mapping[str, Any]], outputs: Sequence[Mapping[str, Any]] | None = None
    ) -> pd.DataFrame:
        """The drift signals: the features of each item and the segment it was (or is) given."""
        frame = self.frame(inputs)
        labels = [row["segment"] for row in outputs] if outputs is not None else self.assign(frame)[0]
        frame["segment"] = [str(s) for s in labels]
        return frame
