"""Embedding drift: a network's embeddings reduced to the reference's top principal directions, so
the prediction log keeps a few numbers per input and drift compares them like any signal (numpy
only: the serving worker imports it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

PROJECTION_FILE = "embedding_projection"  # the extra JSON file shipped with the model


def principal_components(embeddings: np.ndarray, dims: int) -> dict[str, Any]:
    """Mean and top ``dims`` principal directions of the reference embeddings."""
    mean = embeddings.mean(axis=0)
    _, _, vt = np.linalg.svd(embeddings - mean, full_matrices=False)
    return {"mean": mean.round(6).tolist(), "components": vt[:dims].round(6).tolist()}


def project(embeddings: np.ndarray, projection: Mapping[str, Any] | None) -> np.ndarray:
    """Embeddings as coordinates along the reference's principal directions ((N, 0) without one)."""
    if projection is None:
        return np.zeros((len(embeddings), 0), np.float32)
    mean, components = np.asarray(projection["mean"]), np.asarray(projection["components"])
    return (embeddings - mean) @ components.T
