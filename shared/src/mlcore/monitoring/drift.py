"""Drift statistics against a reference profile computed once, at training time.

The profile holds, per feature, quantile bin edges and reference proportions (for PSI), category
shares (for PSI and chi-square) and a row sample (for KS and the HTML report). Comparing a window
of traffic costs one pass over the window, capped at ``sample_size`` rows, whatever the log size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

EPS = 1e-4
OTHER = "__other__"


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    ks_stat: float = 0.15
    chi2_p_value: float = 0.001
    min_drifted_features: int = 1

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Thresholds:
        return cls(**{k: cfg[k] for k in ("psi", "ks_stat", "chi2_p_value", "min_drifted_features") if k in cfg})


def build_profile(
    frame: pd.DataFrame,
    categorical: Sequence[str] = (),
    bins: int = 10,
    sample_size: int = 5000,
    seed: int = 0,
    min_share: float = 0.01,
) -> dict[str, Any]:
    """Reference profile of ``frame`` (numeric columns unless named in ``categorical``).

    Small references get fewer bins (about 25 rows a bin) and categories rarer than ``min_share``
    are pooled into one ``__other__`` share, so that PSI and chi-square are not noise.
    """
    bins = max(2, min(bins, len(frame) // 25))
    features: dict[str, Any] = {}
    for name in frame.columns:
        col = frame[name]
        if name in categorical or not pd.api.types.is_numeric_dtype(col):
            shares = col.astype(str).value_counts(normalize=True)
            kept = {str(k): float(v) for k, v in shares.items() if v >= min_share}
            rest = float(shares[shares < min_share].sum())
            features[name] = {"kind": "categorical", "shares": {**kept, **({OTHER: rest} if rest else {})}}
        else:
            values = col.dropna().to_numpy(dtype=float)
            edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])) if len(values) else np.array([])
            features[name] = {"kind": "numeric", "edges": edges.tolist(), "props": _bin_props(values, edges).tolist()}
    sample = frame.sample(n=min(sample_size, len(frame)), random_state=seed)
    return {"n_rows": int(len(frame)), "features": features, "sample": sample.to_dict(orient="list")}


def _bin_props(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1).astype(float)
    return counts / max(counts.sum(), 1.0)


def _bin_labels(edges: np.ndarray) -> list[str]:
    if len(edges) == 0:
        return ["all"]
    bounds = [f"{e:.4g}" for e in edges]
    return [f"< {bounds[0]}", *(f"{a} to {b}" for a, b in zip(bounds, bounds[1:], strict=False)), f">= {bounds[-1]}"]


def rule(kind: str, thresholds: Thresholds) -> str:
    """The test that flags a feature of ``kind``, in words (the reports show it beside the verdict)."""
    if kind == "numeric":
        return f"PSI > {thresholds.psi} or KS > {thresholds.ks_stat}"
    return f"PSI > {thresholds.psi} and chi-square p < {thresholds.chi2_p_value}"


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two proportion vectors."""
    ref = np.clip(np.asarray(reference, dtype=float), EPS, None)
    cur = np.clip(np.asarray(current, dtype=float), EPS, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def compare(
    profile: Mapping[str, Any],
    current: pd.DataFrame,
    thresholds: Thresholds = Thresholds(),
    sample_size: int = 50_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-feature PSI/KS/chi-square of ``current`` against ``profile``, and the verdict."""
    if len(current) == 0:
        raise ValueError("no rows in the current window: nothing to compare")
    if len(current) > sample_size:
        current = current.sample(n=sample_size, random_state=seed)
    features: dict[str, Any] = {}
    for name, ref in profile["features"].items():
        if name not in current.columns:
            raise KeyError(f"feature {name!r} of the reference profile is missing from the current window")
        col = current[name]
        if ref["kind"] == "numeric":
            values = col.dropna().to_numpy(dtype=float)
            edges = np.asarray(ref["edges"], dtype=float)
            cur_props = _bin_props(values, edges)
            value_psi = psi(np.asarray(ref["props"]), cur_props)
            ref_sample = np.asarray([v for v in profile["sample"][name] if v is not None], dtype=float)
            ks = stats.ks_2samp(ref_sample, values) if len(values) and len(ref_sample) else None
            drifted = value_psi > thresholds.psi or (ks is not None and ks.statistic > thresholds.ks_stat)
            features[name] = {
                "kind": "numeric",
                "rule": rule("numeric", thresholds),
                "psi": value_psi,
                "ks": float(ks.statistic) if ks else None,
                "p_value": float(ks.pvalue) if ks else None,
                "reference_mean": float(np.mean(ref_sample)) if len(ref_sample) else None,
                "current_mean": float(np.mean(values)) if len(values) else None,
                "drifted": bool(drifted),
                "bins": {"labels": _bin_labels(edges), "reference": list(ref["props"]), "current": cur_props.tolist()},
            }
        else:
            shares: dict[str, float] = ref["shares"]
            counts = col.astype(str).value_counts()
            cats = [c for c in shares if c != OTHER]
            cur_counts = np.array(
                [counts.get(c, 0) for c in cats] + [counts[~counts.index.isin(cats)].sum()], dtype=float
            )
            ref_props = np.array([shares[c] for c in cats] + [shares.get(OTHER, 0.0)])
            value_psi = psi(ref_props, cur_counts / cur_counts.sum())
            expected = np.clip(ref_props, EPS, None)
            expected = expected / expected.sum() * cur_counts.sum()
            chi = stats.chisquare(cur_counts, expected)
            drifted = value_psi > thresholds.psi and chi.pvalue < thresholds.chi2_p_value
            features[name] = {
                "kind": "categorical",
                "rule": rule("categorical", thresholds),
                "psi": value_psi,
                "chi2": float(chi.statistic),
                "chi2_p_value": float(chi.pvalue),
                "drifted": bool(drifted),
                "bins": {
                    "labels": [*cats, OTHER],
                    "reference": ref_props.tolist(),
                    "current": (cur_counts / cur_counts.sum()).tolist(),
                },
            }
    drifted = [n for n, f in features.items() if f["drifted"]]
    return {
        "n_current": int(len(current)),
        "n_reference": int(profile["n_rows"]),
        "thresholds": thresholds.__dict__,
        "features": features,
        "drifted_features": drifted,
        "drift_detected": len(drifted) >= thresholds.min_drifted_features,
        "status": "drift" if len(drifted) >= thresholds.min_drifted_features else "no_drift",
    }
