"""The estimator: preprocessing + a clustering model chosen by ``configs/model``. Project-owned."""

from __future__ import annotations

from omegaconf import DictConfig
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline

from .features import build_preprocessor


def build_model(model: DictConfig, data: DictConfig, seed: int = 42) -> Pipeline:
    if model.estimator == "kmeans":
        clusterer = KMeans(n_clusters=model.n_clusters, n_init=model.n_init, random_state=seed)
    elif model.estimator == "gmm":
        clusterer = GaussianMixture(
            n_components=model.n_clusters, covariance_type=model.covariance_type, n_init=model.n_init, random_state=seed
        )
    else:
        raise ValueError(f"model.estimator={model.estimator!r} is not one of kmeans, gmm")
    return Pipeline([("features", build_preprocessor(data)), ("cluster", clusterer)])
