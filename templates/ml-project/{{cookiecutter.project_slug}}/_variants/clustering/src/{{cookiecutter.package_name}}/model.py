"""The estimator: preprocessing + a clustering model chosen by ``configs/model``. Project-owned.

``fit_model`` returns a fitted scikit-learn ``Pipeline`` whose last step predicts a cluster for new
rows: KMeans and the Gaussian mixture do that themselves; agglomerative clustering (which cannot)
is fitted on a sample and then represented by its cluster centroids (``NearestCentroid``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import Pipeline

from .features import build_preprocessor

ESTIMATORS = ("kmeans", "gmm", "agglomerative")


def fit_model(model: DictConfig, data: DictConfig, frame: pd.DataFrame, n_clusters: int, seed: int = 42) -> Pipeline:
    """Fit preprocessing and ``n_clusters`` clusters on ``frame`` (the clustering feature columns)."""
    preprocess = build_preprocessor(data).fit(frame)
    points = preprocess.transform(frame)
    if model.estimator == "kmeans":
        clusterer = KMeans(n_clusters=n_clusters, n_init=model.n_init, random_state=seed).fit(points)
    elif model.estimator == "gmm":
        clusterer = GaussianMixture(
            n_components=n_clusters, covariance_type=model.covariance_type, n_init=model.n_init, random_state=seed
        ).fit(points)
    elif model.estimator == "agglomerative":
        rng = np.random.default_rng(seed)
        rows = rng.choice(len(points), size=min(len(points), model.max_fit_rows), replace=False)
        labels = AgglomerativeClustering(n_clusters=n_clusters, linkage=model.linkage).fit_predict(points[rows])
        clusterer = NearestCentroid().fit(points[rows], labels)
    else:
        raise ValueError(f"model.estimator={model.estimator!r} is not one of {', '.join(ESTIMATORS)}")
    return Pipeline([("features", preprocess), ("cluster", clusterer)])
