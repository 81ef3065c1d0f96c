"""What this project's task does, for the suite's generic stages (``mlcore.tasks``). Project-owned.

Clustering into named segments: with ``model.n_clusters: null`` every k in ``train.k_selection``
is fitted on the train split and scored on validation (one MLflow child run per k, the curve in
reports/plots/k_selection.csv) and k is chosen by ``mlcore.tasks.segments.choose_k``; the segment
profiles and names ship with the model. Evaluation adds stability across seeds and resamples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from mlcore.foundation.config import to_dict
from mlcore.foundation.progress import step
from mlcore.tasks import Fitted, Reference, Scored
from mlcore.tasks.clustering import SEGMENTS_FILE
from mlcore.tasks.metrics import clustering_metrics
from mlcore.tasks.segments import as_records, choose_k, overall_stats, profile
from omegaconf import DictConfig
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from tqdm import tqdm

from .features import name_segments
from .model import fit_model
from .predictor import SERVED, Predictor, request_items


def quality(predictor: Predictor, frame: pd.DataFrame, prefix: str) -> dict[str, float]:
    """Cluster quality on ``frame`` (``<prefix>_*``) and the smallest cluster's share."""
    labels, _ = predictor.assign(frame)
    points = predictor.preprocess.transform(frame[predictor.features])
    quality_ = clustering_metrics(points, labels)
    quality_.pop("min_cluster_share", None)  # counted below over every cluster, empty ones included
    metrics = {f"{prefix}_{k}": v for k, v in quality_.items()}
    shares = pd.Series(labels).value_counts(normalize=True).reindex(range(len(predictor.centres))).fillna(0)
    metrics["min_cluster_share"] = float(shares.min())
    return metrics


def score_k(cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame, k: int, seed: int) -> tuple[Predictor, dict]:
    """Fit k clusters on train; validation metrics ``val_*`` and the smallest cluster's share."""
    features = list(cfg.data.features.numeric)
    pipeline = fit_model(cfg.model, cfg.data, train[features], n_clusters=k, seed=seed)
    predictor = Predictor(pipeline, features, to_dict(cfg.data.table))
    return predictor, quality(predictor, val, "val")


def segment_profiles(predictor: Predictor, table: pd.DataFrame, cfg: DictConfig) -> dict[str, Any]:
    """Profiles and names of the segments on ``table``; shipped with the model for GET /segments."""
    columns = list(cfg.data.features.profile)
    labels, _ = predictor.assign(table)
    prof = profile(table, labels, columns, cfg.data.features.get("value"))
    overall = overall_stats(table, columns)
    names = name_segments(prof, overall, cfg.data)
    return {"columns": columns, "overall": overall, "segments": as_records(prof, names)}


def stability(predictor: Predictor, train: pd.DataFrame, test: pd.DataFrame, cfg: DictConfig) -> float:
    """Mean adjusted Rand index between the model's test assignments and refits with other seeds
    on bootstrap resamples of the train split (1.0: the same segments every time)."""
    reference, _ = predictor.assign(test)
    rng = np.random.default_rng(cfg.train.split.seed)
    k = len(predictor.centres)
    scores = []
    for seed in tqdm(range(1, cfg.train.stability.seeds + 1), desc="stability", disable=None, leave=False):
        sample = train.iloc[rng.integers(0, len(train), len(train))][predictor.features]
        refit = Predictor(fit_model(cfg.model, cfg.data, sample, n_clusters=k, seed=seed), predictor.features)
        scores.append(adjusted_rand_score(reference, refit.assign(test)[0]))
    return float(np.mean(scores))


class Clustering:
    served = SERVED
    headline = ("test_silhouette", "test_davies_bouldin", "stability_ari", "min_cluster_share")

    def fit(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Fitted:
        fixed, rules = cfg.model.n_clusters, cfg.train.k_selection
        ks = [int(fixed)] if fixed is not None else list(range(rules.k_min, rules.k_max + 1))
        results: dict[int, tuple[Predictor, dict]] = {}
        with step("train", f"fit {cfg.model.name} for k in {ks} on {len(train)} rows"):
            # A bar on a terminal only (disable=None); logs get the stage lines.
            for k in tqdm(ks, desc="k", disable=True if len(ks) == 1 else None, leave=False):
                results[k] = score_k(cfg, train, val, k, cfg.train.split.seed)
        curve = pd.DataFrame(
            [
                {
                    "k": k,
                    "silhouette": m["val_silhouette"],
                    "davies_bouldin": m["val_davies_bouldin"],
                    "calinski_harabasz": m["val_calinski_harabasz"],
                    "min_share": m["min_cluster_share"],
                }
                for k, (_, m) in results.items()
            ]
        )
        chosen = int(fixed) if fixed is not None else choose_k(curve, rules.choose_min, rules.min_share)
        predictor, metrics = results[chosen]
        children = [
            {"run_name": f"k={int(row['k'])}", "params": {"n_clusters": int(row["k"])}, "metrics": row}
            for row in curve.to_dict(orient="records")
        ]
        return Fitted(
            predictor,
            predictor.pipeline,
            {**metrics, "k": float(chosen)},
            summary=f"k={chosen}, val_silhouette={metrics['val_silhouette']:.4f}",
            tables={"k_selection": curve},
            child_runs=children if len(children) > 1 else [],
        )

    def reference(self, fitted: Fitted, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Reference:
        # Rows the model has seen: the reference for drift checks and for the segment profiles.
        seen = pd.concat([train, val], ignore_index=True)
        predictor = fitted.predictor
        segments = segment_profiles(predictor, seen, cfg)
        predictor.segments = segments["segments"]  # the logged model answers with the names
        frame = predictor.drift_frame(request_items(seen))
        return Reference(frame, categorical=["segment"], extras={SEGMENTS_FILE: segments})

    def metadata(self, fitted: Fitted, cfg: DictConfig) -> dict[str, Any]:
        predictor = fitted.predictor
        return {"features": predictor.features, "table": to_dict(cfg.data.table), "n_clusters": len(predictor.centres)}

    def input_example(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> pd.DataFrame:
        seen = pd.concat([train, val], ignore_index=True)
        return pd.DataFrame(request_items(seen.head(3)))  # the request contract, as /predict takes it

    def score(self, predictor: Predictor, test: pd.DataFrame, cfg: DictConfig) -> Scored:
        return Scored(quality(predictor, test, "test"))

    def assess(self, predictor: Predictor, cfg: DictConfig, splits: Mapping[str, pd.DataFrame]) -> Scored:
        test = splits["test"]
        with step("evaluate", f"stability over {cfg.train.stability.seeds} seeds and bootstrap resamples"):
            ari = stability(predictor, splits["train"], test, cfg)
        labels, _ = predictor.assign(test)
        points = predictor.preprocess.transform(test[predictor.features])
        projected = PCA(n_components=2).fit_transform(points) if points.shape[1] > 2 else np.asarray(points)
        shares = pd.Series(labels).value_counts(normalize=True).sort_index()
        names = predictor.names
        tables = {
            "projection": pd.DataFrame(
                {
                    "component_1": projected[:, 0],
                    "component_2": projected[:, 1],
                    "cluster": [names.get(int(s), str(s)) for s in labels],
                }
            ),
            "cluster_sizes": pd.DataFrame(
                {"cluster": [names.get(int(s), str(s)) for s in shares.index], "share": shares.to_numpy()}
            ),
        }
        return Scored({"stability_ari": ari}, tables)


TASK = Clustering()
