"""Metrics and plot data for each task type (pure: arrays in, numbers and tables out)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def choose_threshold(y_true: np.ndarray, scores: np.ndarray, target_precision: float) -> float:
    """Lowest threshold whose precision reaches ``target_precision`` (max recall at that precision).

    Falls back to the F1-optimal threshold when no threshold reaches the target.
    """
    from sklearn import metrics as skm

    precision, recall, thresholds = skm.precision_recall_curve(y_true, scores)
    precision, recall = precision[:-1], recall[:-1]
    ok = np.flatnonzero(precision >= target_precision)
    if len(ok):
        best = ok[np.argmax(recall[ok])]
        return float(thresholds[best])
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    return float(thresholds[int(np.argmax(f1))])


def classification_metrics(
    y_true: np.ndarray, scores: np.ndarray, threshold: float, labels: Sequence[str] = ("negative", "positive")
) -> dict[str, float]:
    """Binary metrics at ``threshold`` on the positive class's scores, plus the per-class and
    averaged figures every classifier reports (``class_metrics``)."""
    from sklearn import metrics as skm

    y_pred = (scores >= threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    binary = {
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "roc_auc": float(skm.roc_auc_score(y_true, scores)) if len(set(y_true)) > 1 else float("nan"),
        "pr_auc": float(skm.average_precision_score(y_true, scores)) if len(set(y_true)) > 1 else float("nan"),
        "threshold": float(threshold),
        "tp": int(tp),
        "fp": int(fp),
        "tn": int(tn),
        "fn": int(fn),
    }
    return {**binary, **class_metrics(y_true, y_pred, labels)}


def metric_slug(label: str) -> str:
    """A class label as part of a metric name: lowercase letters, digits and underscores."""
    return re.sub(r"[^a-z0-9]+", "_", str(label).lower()).strip("_") or "class"


def class_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], proba: np.ndarray | None = None
) -> dict[str, float]:
    """Metrics for any number of classes (``y_*`` are class indices into ``labels``): accuracy,
    macro and weighted precision/recall/F1, per-class precision/recall/F1 (``f1_class_<label>``),
    and with class probabilities (n x classes) log loss and one-vs-rest ROC AUC."""
    from sklearn import metrics as skm

    ids = list(range(len(labels)))
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    out: dict[str, float] = {"accuracy": float(skm.accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=ids, average=average, zero_division=0)
        out.update({f"precision_{average}": float(p), f"recall_{average}": float(r), f"f1_{average}": float(f)})
    p, r, f, support = skm.precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    for i, label in enumerate(labels):
        slug = metric_slug(label)
        out.update(
            {
                f"precision_class_{slug}": float(p[i]),
                f"recall_class_{slug}": float(r[i]),
                f"f1_class_{slug}": float(f[i]),
                f"support_class_{slug}": int(support[i]),
            }
        )
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        out["log_loss"] = float(skm.log_loss(y_true, proba, labels=ids))
        present = len(set(y_true.tolist()))
        if present == len(ids) and len(ids) > 2:
            out["roc_auc_ovr"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=ids))
    return out


def confusion_table(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """Confusion matrix as a long table (actual, predicted, count), every pair of classes present."""
    from sklearn import metrics as skm

    ids = list(range(len(labels)))
    matrix = skm.confusion_matrix(np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int), labels=ids)
    return pd.DataFrame(
        [{"actual": labels[a], "predicted": labels[b], "count": int(matrix[a, b])} for a in ids for b in ids]
    )


def top_k_accuracy(y_true: np.ndarray, proba: np.ndarray, k: int) -> float:
    """Share of rows whose true class is among the ``k`` most probable."""
    if len(y_true) == 0:
        return float("nan")
    top = np.argsort(-np.asarray(proba), axis=1)[:, :k]
    return float((top == np.asarray(y_true)[:, None]).any(axis=1).mean())


def reliability_table(y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Calibration by confidence bin: mean confidence, accuracy and count (the reliability diagram)."""
    proba = np.asarray(proba)
    confidence, predicted = proba.max(axis=1), proba.argmax(axis=1)
    correct = predicted == np.asarray(y_true)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        rows.append(
            {
                "bin": b,
                "confidence": float(confidence[mask].mean()) if mask.any() else float((edges[b] + edges[b + 1]) / 2),
                "accuracy": float(correct[mask].mean()) if mask.any() else float("nan"),
                "count": int(mask.sum()),
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> float:
    """ECE: the count-weighted gap between confidence and accuracy over confidence bins."""
    table = reliability_table(y_true, proba, bins)
    used = table[table["count"] > 0]
    if used.empty:
        return float("nan")
    return float((used["count"] * (used["confidence"] - used["accuracy"]).abs()).sum() / used["count"].sum())


def multiclass_metrics(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """``class_metrics`` of the most probable class, plus top-2 accuracy and calibration (ECE)."""
    proba = np.asarray(proba, dtype=float)
    proba = proba / proba.sum(axis=1, keepdims=True)  # float32 softmax rows sum to 1 only within 1e-7
    out = class_metrics(y_true, proba.argmax(axis=1), labels, proba)
    out["top2_accuracy"] = top_k_accuracy(y_true, proba, 2)
    out["ece"] = expected_calibration_error(y_true, proba)
    return out


def multiclass_plot_data(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Tables behind the confusion matrix and the reliability diagram (DVC plots read them)."""
    names = np.asarray(labels)
    return {
        "confusion": pd.DataFrame(
            {"actual": names[np.asarray(y_true, dtype=int)], "predicted": names[np.asarray(proba).argmax(axis=1)]}
        ),
        "reliability": reliability_table(y_true, proba),
    }


def classification_plot_data(
    y_true: np.ndarray, scores: np.ndarray, threshold: float, labels: tuple[str, str]
) -> dict[str, pd.DataFrame]:
    """Tables behind the ROC, PR and confusion plots (DVC plots read them)."""
    from sklearn import metrics as skm

    fpr, tpr, _ = skm.roc_curve(y_true, scores)
    precision, recall, _ = skm.precision_recall_curve(y_true, scores)
    names = np.asarray(labels)
    y_pred = (scores >= threshold).astype(int)
    return {
        "roc": _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})),
        "precision_recall": _thin(pd.DataFrame({"recall": recall, "precision": precision})),
        "confusion": pd.DataFrame({"actual": names[np.asarray(y_true, dtype=int)], "predicted": names[y_pred]}),
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as skm

    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    out = {
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)),
    }
    if (y_true > -1).all() and (y_pred > -1).all():
        out["rmsle"] = float(np.sqrt(skm.mean_squared_log_error(y_true, y_pred)))
    return out


def regression_plot_data(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, pd.DataFrame]:
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    return {
        "predicted_vs_actual": pd.DataFrame({"actual": y_true, "predicted": y_pred}),
        "residuals": pd.DataFrame({"predicted": y_pred, "residual": y_true - y_pred}),
    }


def clustering_metrics(
    features: np.ndarray, labels: np.ndarray, sample_size: int = 10_000, seed: int = 0
) -> dict[str, float]:
    from sklearn import metrics as skm

    n_clusters = len(set(labels.tolist()))
    if n_clusters < 2:
        return {
            "n_clusters": float(n_clusters),
            "silhouette": float("nan"),
            "davies_bouldin": float("nan"),
            "calinski_harabasz": float("nan"),
        }
    sizes = np.bincount(labels) / len(labels)
    return {
        "n_clusters": float(n_clusters),
        "silhouette": float(
            skm.silhouette_score(features, labels, sample_size=min(sample_size, len(labels)), random_state=seed)
        ),
        "davies_bouldin": float(skm.davies_bouldin_score(features, labels)),
        "calinski_harabasz": float(skm.calinski_harabasz_score(features, labels)),
        "min_cluster_share": float(sizes[sizes > 0].min()),
    }


def _thin(frame: pd.DataFrame, max_points: int = 500) -> pd.DataFrame:
    if len(frame) <= max_points:
        return frame
    idx = np.unique(np.linspace(0, len(frame) - 1, max_points).astype(int))
    return frame.iloc[idx].reset_index(drop=True)


def image_grid_table(
    images: np.ndarray, rows: pd.DataFrame, columns: Sequence[str] = ("actual", "predicted", "confidence")
) -> pd.DataFrame:
    """A table of small images (``pixels``: space-separated values, ``height``, ``width``) with
    their captions: what ``write_plots`` draws as a grid (e.g. the most confident mistakes)."""
    out = rows[list(columns)].reset_index(drop=True).copy()
    out["height"], out["width"] = images.shape[1], images.shape[2]
    out["pixels"] = [" ".join(map(str, image.reshape(-1).tolist())) for image in images]
    return out


def write_plots(tables: Mapping[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    """Write each table as ``<name>.csv`` (DVC plots) and a PNG (MLflow artifacts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, table in tables.items():
        csv = out_dir / f"{name}.csv"
        table.to_csv(csv, index=False)
        written.append(csv)
        fig, ax = plt.subplots(figsize=(5, 4))
        _draw(ax, name, table)
        fig.tight_layout()
        png = out_dir / f"{name}.png"
        fig.savefig(png, dpi=90)
        plt.close(fig)
        written.append(png)
    return written


def _draw(ax: Any, name: str, table: pd.DataFrame) -> None:
    if "pixels" in table.columns:  # a grid of images (image_grid_table)
        _draw_grid(ax, table)
    elif name == "explanation_maps":
        _draw_maps(ax, table)
    elif name == "explanation_beeswarm":
        _draw_beeswarm(ax, table)
    elif name == "explanation_dependence":
        for term, part in table.groupby("term", sort=False):
            ax.scatter(part["value_rank"], part["contribution"], s=6, label=str(term))
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set_xlabel("the item's value (rank among the items)")
        ax.set_ylabel("contribution")
        ax.legend(fontsize=6)
    elif name == "explanation_terms":
        ordered = table.iloc[::-1]
        several = ordered["label"].nunique() > 1
        names = [
            f"{label}: {term}" if several else str(term)
            for label, term in zip(ordered["label"], ordered["term"], strict=True)
        ]
        ax.barh(names, ordered["importance"])
        ax.set_xlabel("mean contribution towards the label" if several else "mean |contribution|")
        ax.tick_params(axis="y", labelsize=6)
    elif name == "slices":
        ordered = table.iloc[::-1]
        metric = table.columns[3]
        ax.barh([f"{a}: {b} ({n})" for a, b, n in zip(ordered["slice"], ordered["group"], ordered["rows"], strict=True)],
                ordered[metric], color=["#2a5bd7" if ok else "#bbbbbb" for ok in ordered["enough_rows"]])  # fmt: skip
        ax.set_xlabel(f"{metric} per slice (grey: too few rows to judge)")
        ax.tick_params(axis="y", labelsize=6)
    elif name == "confusion":
        matrix = pd.crosstab(table["actual"], table["predicted"])
        ax.imshow(matrix.to_numpy(), cmap="Blues")
        ax.set_xticks(range(len(matrix.columns)), matrix.columns)
        ax.set_yticks(range(len(matrix.index)), matrix.index)
        for (i, j), v in np.ndenumerate(matrix.to_numpy()):
            ax.text(j, i, str(v), ha="center", va="center")
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
    elif name == "projection":
        for cluster, part in table.groupby("cluster"):
            ax.scatter(part["component_1"], part["component_2"], s=6, label=f"cluster {cluster}")
        ax.legend(fontsize=7)
    elif name == "permutation_importance":
        ordered = table.iloc[::-1]
        ax.barh(ordered["feature"], ordered["importance"])
        ax.set_xlabel("drop in R^2 when shuffled")
        ax.tick_params(axis="y", labelsize=6)
    elif name == "k_selection":
        ax.plot(table["k"], table["silhouette"], "o-", label="silhouette")
        ax.plot(table["k"], table["davies_bouldin"], "s--", label="Davies-Bouldin")
        ax.set_xlabel("k")
        ax.legend(fontsize=7)
    elif name == "reliability":
        ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
        ax.plot(table["confidence"], table["accuracy"], "o-", label="model")
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=7)
    elif name == "cluster_sizes":
        ax.barh(table["cluster"], table["share"])
        ax.set_xlabel("share")
    elif len(table.columns) == 2:
        x, y = table.columns
        style = "." if name in ("predicted_vs_actual", "residuals") else "-"
        ax.plot(table[x], table[y], style, markersize=2)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
    else:
        table.plot(ax=ax)
    ax.set_title(name.replace("_", " "))


def conformal_halfwidth(residuals: np.ndarray, coverage: float) -> float:
    """Split-conformal half-width: the ceil((n+1)*coverage)/n quantile of |residuals|."""
    scores = np.sort(np.abs(np.asarray(residuals, dtype=float)))
    if not len(scores):
        raise ValueError("no residuals to calibrate the interval on (empty validation split?)")
    rank = min(int(np.ceil((len(scores) + 1) * coverage)), len(scores))
    return float(scores[rank - 1])


INTERVAL_SCALES = ("log", "linear")


def interval_residuals(y_true: np.ndarray, y_pred: np.ndarray, scale: str) -> np.ndarray:
    """Calibration residuals on the interval's scale: ``log`` (relative; targets must be > 0) or ``linear``."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if scale == "linear":
        return y_true - y_pred
    if scale == "log":
        if (y_true <= 0).any():
            raise ValueError("train.interval_scale=log needs a positive target; use train.interval_scale=linear")
        return np.log(y_true) - np.log(np.clip(y_pred, 1e-9, None))
    raise ValueError(f"train.interval_scale={scale!r} is not one of {', '.join(INTERVAL_SCALES)}")


def interval(y_pred: np.ndarray, halfwidth: float, scale: str) -> tuple[np.ndarray, np.ndarray]:
    """[low, high] around each prediction: ``pred * exp(-+h)`` on the log scale, ``pred -+ h`` on the linear one."""
    y_pred = np.asarray(y_pred, dtype=float)
    if scale == "log":
        return y_pred * np.exp(-halfwidth), y_pred * np.exp(halfwidth)
    return y_pred - halfwidth, y_pred + halfwidth


def _draw_beeswarm(ax: Any, table: pd.DataFrame) -> None:
    """A SHAP summary: one row per term (largest first), a dot per item at its contribution,
    coloured by the item's value (blue low, red high, grey a category), jittered up and down."""
    terms = list(dict.fromkeys(table["term"]))
    rng = np.random.default_rng(0)
    for row, term in enumerate(reversed(terms)):
        part = table[table["term"] == term]
        y = row + rng.uniform(-0.3, 0.3, len(part))
        ranks = part["value_rank"].to_numpy(dtype=float)
        colours = [plt_colour(r) for r in ranks]
        ax.scatter(part["contribution"], y, s=5, c=colours)
    ax.set_yticks(range(len(terms)), list(reversed(terms)))
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("contribution (colour: the item's value, blue low, red high)")
    ax.tick_params(axis="y", labelsize=6)


def plt_colour(rank: float) -> tuple[float, float, float]:
    if np.isnan(rank):
        return (0.6, 0.6, 0.6)
    return (rank, 0.2, 1.0 - rank)


def _draw_maps(ax: Any, table: pd.DataFrame, columns: int = 5) -> None:
    """Mean occlusion maps per class (red: the class's support), each titled with its class."""
    ax.axis("off")
    if table.empty:
        return
    fig = ax.figure
    rows = -(-len(table) // columns)
    fig.set_size_inches(columns * 1.6, rows * 1.8)
    peak = max(float(np.abs(np.array(row.heat.split(), dtype=float)).max()) for row in table.itertuples()) or 1.0
    for i, row in enumerate(table.itertuples(index=False)):
        heat = np.array(row.heat.split(), dtype=float).reshape(int(row.height), int(row.width))
        sub = fig.add_subplot(rows, columns, i + 1)
        sub.imshow(heat, cmap="RdBu_r", vmin=-peak, vmax=peak)
        sub.set_title(f"{row.label} ({row.items})", fontsize=6)
        sub.axis("off")


def _draw_grid(ax: Any, table: pd.DataFrame, columns: int = 5) -> None:
    """Images in a grid, each captioned "actual -> predicted (confidence)"."""
    ax.axis("off")
    if table.empty:
        return
    fig = ax.figure
    rows = -(-len(table) // columns)
    fig.set_size_inches(columns * 1.6, rows * 1.8)
    for i, row in enumerate(table.itertuples(index=False)):
        image = np.array(row.pixels.split(), dtype=np.uint8).reshape(int(row.height), int(row.width))
        sub = fig.add_subplot(rows, columns, i + 1)
        sub.imshow(image, cmap="gray")
        sub.set_title(f"{row.actual} ->\n{row.predicted} ({row.confidence:.2f})", fontsize=6)
        sub.axis("off")
