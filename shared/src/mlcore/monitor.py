"""The ``monitor`` command's core: compare a traffic window with the reference, write reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .drift import Thresholds, compare, reference_frame


def write_html_report(reference: pd.DataFrame, current: pd.DataFrame, path: str | Path) -> Path:
    """Evidently 0.7 data-drift report (for people; the JSON is for machines)."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [c for c in reference.columns if c in current.columns]
    report = Report(metrics=[DataDriftPreset(columns=columns)])
    snapshot = report.run(current_data=current[columns], reference_data=reference[columns])
    snapshot.save_html(str(path))
    return path


def run(
    profile: dict[str, Any],
    current: pd.DataFrame,
    thresholds: Thresholds,
    json_path: str | Path,
    html_path: str | Path | None = None,
    html_rows: int = 5000,
) -> dict[str, Any]:
    """Compare ``current`` with ``profile``; write the JSON (and HTML) report; return the JSON."""
    report = compare(profile, current, thresholds)
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = json_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(json_path)
    if html_path is not None:
        sample = current.sample(n=min(html_rows, len(current)), random_state=0)
        write_html_report(reference_frame(profile), sample, html_path)
    return report


def summary_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"{'feature':<24} {'psi':>8} {'ks/chi2p':>10}  drifted"]
    for name, feat in report["features"].items():
        second = feat.get("ks") if feat["kind"] == "numeric" else feat.get("chi2_p_value")
        lines.append(
            f"{name:<24} {feat['psi']:>8.3f} {second if second is not None else float('nan'):>10.3g}  {'YES' if feat['drifted'] else 'no'}"
        )
    verdict = "DRIFT DETECTED" if report["drift_detected"] else "no drift"
    lines.append(
        f"{verdict}: {len(report['drifted_features'])} feature(s) over threshold, {report['n_current']} rows checked"
    )
    return lines
