"""The ``monitor`` command's core: judge a traffic window against the reference, write both reports.

One verdict: ``reports/drift.json`` (machines, ``/metrics``) and ``reports/drift.html`` (people)
are rendered from the same figures of ``mlcore.monitoring.drift.compare``, with the same tests, thresholds and
verdicts, and are replaced together, so the page never shows an older run than the JSON.

Exit codes of ``make monitor`` (``exit_code``):

- 0: judged, no drift;
- 1: judged, drift (``thresholds.min_drifted_features`` or more features over their test);
- 2: not judged: fewer rows than ``monitor.min_rows``, an empty prediction log, or no model or
  reference profile to compare with;
- 3: an error (a crash; the message says what broke).
"""

from __future__ import annotations

import html
import json
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from mlcore.monitoring.drift import Thresholds, compare

EXIT_NO_DRIFT, EXIT_DRIFT, EXIT_NOT_JUDGED, EXIT_ERROR = 0, 1, 2, 3
log = logging.getLogger(__name__)


class CannotJudge(RuntimeError):
    """Nothing to compare (no traffic, no model, no reference): exit 2 with this message."""


def judge(profile: dict[str, Any], current: pd.DataFrame, thresholds: Thresholds, min_rows: int = 1) -> dict[str, Any]:
    """The JSON report: ``compare``'s figures, or ``status: not_judged`` below ``min_rows`` rows."""
    if len(current) < max(min_rows, 1):
        return {
            "status": "not_judged",
            "reason": f"only {len(current)} rows in the window (< monitor.min_rows={min_rows})",
            "n_current": int(len(current)),
            "n_reference": int(profile["n_rows"]),
            "thresholds": thresholds.__dict__,
            "features": {},
            "drifted_features": [],
            "drift_detected": False,
        }
    return compare(profile, current, thresholds)


def exit_code(report: dict[str, Any]) -> int:
    if report.get("status") == "not_judged":
        return EXIT_NOT_JUDGED
    return EXIT_DRIFT if report["drift_detected"] else EXIT_NO_DRIFT


def run(
    profile: dict[str, Any],
    current: pd.DataFrame,
    thresholds: Thresholds,
    json_path: str | Path,
    html_path: str | Path | None = None,
    min_rows: int = 1,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Judge ``current`` against ``profile``; write the JSON (and HTML) report together; return the JSON."""
    report = {**judge(profile, current, thresholds, min_rows), **(extra or {})}
    write_reports(report, json_path, html_path)
    return report


def write_reports(report: dict[str, Any], json_path: str | Path, html_path: str | Path | None) -> None:
    """Write both reports to temporary files, then move them in (HTML first, JSON last)."""
    pending: list[tuple[Path, Path]] = []
    for path, text in (
        (html_path, render_html(report) if html_path is not None else None),
        (json_path, json.dumps(report, indent=2) + "\n"),
    ):
        if path is None or text is None:
            continue
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        pending.append((tmp, path))
    for tmp, path in pending:
        tmp.replace(path)


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4g}"


def _bars(bins: dict[str, list[Any]]) -> str:
    top = max([*bins["reference"], *bins["current"], 1e-9])
    rows = []
    for label, ref, cur in zip(bins["labels"], bins["reference"], bins["current"], strict=True):
        rows.append(
            f"<tr><td class=bin>{html.escape(str(label))}</td><td class=bars>"
            f"<div class='bar ref' style='width:{100 * ref / top:.1f}%'></div>"
            f"<div class='bar cur' style='width:{100 * cur / top:.1f}%'></div></td>"
            f"<td class=num>{ref:.1%}</td><td class=num>{cur:.1%}</td></tr>"
        )
    return (
        "<table class=dist><tr><th>bin</th><th></th><th>reference</th><th>current</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def render_html(report: dict[str, Any]) -> str:
    """The people's report: the verdict, then per feature its statistics, test, verdict and distributions."""
    status = report.get("status", "drift" if report["drift_detected"] else "no_drift")
    verdict = {
        "drift": f"DRIFT: {len(report['drifted_features'])} feature(s) over their test",
        "no_drift": "No drift",
        "not_judged": f"Not judged: {report.get('reason', '')}",
    }[status]
    meta = ", ".join(
        f"{k}: {html.escape(str(report[k]))}" for k in ("model_version", "n_current", "n_reference") if k in report
    )
    rows, details = [], []
    for name, feat in report["features"].items():
        second = (
            f"KS {_fmt(feat.get('ks'))}"
            if feat["kind"] == "numeric"
            else f"chi-square p {_fmt(feat.get('chi2_p_value'))}"
        )
        flag = "yes" if feat["drifted"] else "no"
        rows.append(
            f"<tr data-feature='{html.escape(name)}' data-drifted='{flag}' class='{'drifted' if feat['drifted'] else ''}'>"
            f"<td>{html.escape(name)}</td><td>{feat['kind']}</td><td class=num>{_fmt(feat['psi'])}</td>"
            f"<td class=num>{second}</td><td>{html.escape(feat.get('rule', ''))}</td>"
            f"<td class=verdict>{'DRIFTED' if feat['drifted'] else 'ok'}</td></tr>"
        )
        if "bins" in feat:
            details.append(f"<section><h3>{html.escape(name)}</h3>{_bars(feat['bins'])}</section>")
    table = (
        "<table class=features><tr><th>feature</th><th>kind</th><th>PSI</th><th>second test</th>"
        "<th>flagged when</th><th>verdict</th></tr>" + "".join(rows) + "</table>"
        if rows
        else ""
    )
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Drift report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }}
.status {{ font-size: 1.4rem; font-weight: 600; padding: .6rem 1rem; border-radius: .4rem; }}
.status.drift {{ background: #fde2e1; }} .status.no_drift {{ background: #e3f4e1; }}
.status.not_judged {{ background: #f1f1f1; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ padding: .3rem .7rem; border-bottom: 1px solid #ddd; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.drifted td.verdict {{ color: #b00020; font-weight: 600; }}
table.dist td.bars {{ width: 20rem; }}
.bar {{ height: .5rem; margin: 1px 0; }} .bar.ref {{ background: #7f7f7f; }} .bar.cur {{ background: #1f77b4; }}
section {{ display: inline-block; vertical-align: top; margin-right: 2rem; }}
</style></head><body>
<h1>Drift report</h1>
<p class='status {status}' id=verdict data-status='{status}'>{html.escape(verdict)}</p>
<p>{meta}. Thresholds: {html.escape(json.dumps(report["thresholds"]))}. Bars: grey reference, blue current.</p>
{table}
{"".join(details)}
</body></html>
"""


def summary_lines(report: dict[str, Any]) -> list[str]:
    if report.get("status") == "not_judged":
        return [f"NOT JUDGED: {report['reason']}"]
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


def command(fn: Callable[[], dict[str, Any]], outputs: str = "", metrics_path: str | Path | None = None) -> int:
    """Run a monitor function; print its summary; with ``metrics_path``, write the run as
    Prometheus metrics whatever its outcome (``mlcore.monitoring.metrics_file``); return the exit
    code (see the module docstring)."""
    from mlcore.monitoring import metrics_file

    def record(verdict: str, report: dict[str, Any] | None = None) -> None:
        if metrics_path is not None:
            metrics_file.write(metrics_path, verdict, report)

    try:
        report = fn()
    except CannotJudge as exc:
        record("not_judged")
        print(f"monitor: not judged: {exc}", file=sys.stderr)
        return EXIT_NOT_JUDGED
    except Exception as exc:  # noqa: BLE001 - any crash is exit 3, never mistaken for drift (1)
        record("error")
        traceback.print_exc()
        print(f"monitor: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    record(metrics_file.verdict_of(report), report)
    print("\n".join(summary_lines(report)))
    if outputs:
        print(f"reports: {outputs}")
    return exit_code(report)
