"""Assign rows to clusters without scikit-learn on the request path.

A fitted ``Pipeline([ColumnTransformer, clusterer])`` whose ColumnTransformer holds RobustScalers
(optionally after ``FunctionTransformer(np.log1p)``) and whose clusterer assigns the nearest centre
(KMeans, NearestCentroid) is compiled into numpy arrays: one row is scaled and compared with every
centre in a few microseconds, where the pipeline spends milliseconds (DataFrame checks, thread-pool
limits). ``compile`` returns None for anything else (e.g. a Gaussian mixture), and callers
fall back to the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class CompiledClusters:
    kind: ClassVar[str] = "nearest_centre"
    order: np.ndarray  # input column index of each transformed column
    logged: np.ndarray  # bool per transformed column: log1p before scaling
    center: np.ndarray
    scale: np.ndarray
    centres: np.ndarray
    labels: np.ndarray  # cluster id of each centre

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        """Rows in input feature order -> the pipeline's scaled feature space."""
        values = np.asarray(matrix, dtype=float)[:, self.order]
        values = np.where(self.logged, np.log1p(np.where(self.logged, values, 0.0)), values)
        return (values - self.center) / self.scale

    def assign(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cluster id and Euclidean distance to that cluster's centre for each row."""
        points = self.transform(matrix)
        distances = np.sqrt(((points[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2))
        nearest = distances.argmin(axis=1)
        return self.labels[nearest], distances[np.arange(len(points)), nearest]

    def original_units(self, points: np.ndarray) -> np.ndarray:
        """Points of the scaled space back in the input's units, in transformed column order."""
        values = np.asarray(points, dtype=float) * self.scale + self.center
        return np.where(self.logged, np.expm1(values), values)

    def margin_parts(self, row: np.ndarray) -> tuple[int, int, np.ndarray]:
        """Why ``row`` (input feature order) goes to its centre rather than the runner-up: the two
        centres' indices and, per transformed column, ``(x - runner)^2 - (x - nearest)^2``; the
        parts sum exactly to the squared-distance margin between the two (positive parts pull
        towards the assigned centre)."""
        point = self.transform(np.asarray(row, dtype=float)[None, :])[0]
        squared = (point[None, :] - self.centres) ** 2
        nearest, runner = np.argsort(squared.sum(axis=1), kind="stable")[:2]
        return int(nearest), int(runner), squared[runner] - squared[nearest]

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_state(cls, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> CompiledClusters:
        return cls(**{f.name: np.asarray(arrays[f.name]) for f in fields(cls)})


def _scaler_parts(step: Any) -> tuple[bool, Any] | None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, RobustScaler

    if isinstance(step, RobustScaler):
        return False, step
    if isinstance(step, Pipeline) and len(step.steps) == 2:
        first, second = step.steps[0][1], step.steps[1][1]
        if (
            isinstance(first, FunctionTransformer)
            and first.func is np.log1p
            and first.inverse_func is None
            and isinstance(second, RobustScaler)
        ):
            return True, second
    return None


def compile(pipeline: Any, features: Sequence[str] = (), **_: Any) -> CompiledClusters | None:  # noqa: A001
    """Compile ``pipeline`` (see the module docstring) or return None when it is not supported."""
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        return None
    columns, clusterer = pipeline.steps[0][1], pipeline.steps[1][1]
    if not isinstance(columns, ColumnTransformer) or columns.remainder != "drop":
        return None
    position = {name: i for i, name in enumerate(features)}
    order, logged, center, scale = [], [], [], []
    for _, transformer, names in columns.transformers_:
        if transformer == "drop" or len(names) == 0:
            continue
        parts = _scaler_parts(transformer)
        if parts is None or not all(n in position for n in names):
            return None
        is_logged, scaler = parts
        order += [position[n] for n in names]
        logged += [is_logged] * len(names)
        center += list(scaler.center_) if scaler.with_centering else [0.0] * len(names)
        scale += list(scaler.scale_) if scaler.with_scaling else [1.0] * len(names)
    if isinstance(clusterer, KMeans):
        centres, labels = clusterer.cluster_centers_, np.arange(len(clusterer.cluster_centers_))
    elif isinstance(clusterer, NearestCentroid) and clusterer.metric == "euclidean":
        centres, labels = clusterer.centroids_, np.asarray(clusterer.classes_)
    else:
        return None
    return CompiledClusters(
        order=np.asarray(order, dtype=int),
        logged=np.asarray(logged, dtype=bool),
        center=np.asarray(center, dtype=float),
        scale=np.asarray(scale, dtype=float),
        centres=np.asarray(centres, dtype=float),
        labels=np.asarray(labels, dtype=int),
    )


from_state = CompiledClusters.from_state  # what mlcore.fastpath.restore calls
