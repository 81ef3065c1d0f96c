"""The model card of a registered version, in the sections of the Hugging Face model card (model
details, intended use, training data, evaluation, explanations, limitations, monitoring), as
Markdown and HTML. ``render`` is pure over the facts the promote stage gathers; the stage logs
both files on the training run and links them from the version's description in the registry."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Z95 = 1.959964  # two-sided 95% normal quantile


@dataclass(frozen=True)
class CardFacts:
    name: str
    version: str
    task_type: str
    run_id: str
    decision: str  # the promotion decision and its reason
    data: Mapping[str, Any]  # the data config's name, source and checksum
    data_stats: Mapping[str, Any]  # the validation stage's figures (rows, counts)
    test_rows: int
    metrics: Mapping[str, float]  # test metrics
    explanation: Sequence[Mapping[str, Any]] = ()  # the global explanation's rows (label, term, importance)
    slices: Sequence[Mapping[str, Any]] = ()  # per-slice metrics, worst first
    drift_signals: Sequence[str] = ()  # what the monitor compares with the reference
    intended_use: str = ""
    limitations: Sequence[str] = field(default_factory=list)


RATES = ("accuracy", "precision", "recall", "f1", "top2_accuracy", "interval_coverage")


def wilson(rate: float, n: int) -> tuple[float, float]:
    """The Wilson 95% interval of a proportion measured on ``n`` items."""
    if n <= 0:
        return (math.nan, math.nan)
    centre = (rate + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(rate * (1 - rate) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def metric_rows(metrics: Mapping[str, float], n: int) -> list[tuple[str, str, str]]:
    """(metric, value, 95% interval) for the headline test metrics: a Wilson interval for the
    proportions measured on the test items; none (said so) for the others."""
    rows = []
    for key, value in metrics.items():
        if not key.startswith("test_") or "_class_" in key or key.endswith(("_tp", "_fp", "_tn", "_fn", "threshold")):
            continue
        name = key.removeprefix("test_")
        if name.endswith(RATES) and 0.0 <= float(value) <= 1.0 and "macro" not in name and "weighted" not in name:
            low, high = wilson(float(value), n)
            rows.append((name, f"{float(value):.4f}", f"{low:.4f} to {high:.4f}"))
        else:
            rows.append((name, f"{float(value):.4f}", "n/a (not a proportion)"))
    return rows


def render(facts: CardFacts) -> str:
    """The card as Markdown."""
    lines = [
        f"# Model card: {facts.name} version {facts.version}",
        "",
        "## Model details",
        "",
        f"- Task type: {facts.task_type}",
        f"- Registered version: {facts.version} (training run `{facts.run_id}`)",
        f"- Promotion: {facts.decision}",
        "",
        "## Intended use",
        "",
        facts.intended_use or f"A {facts.task_type.replace('_', ' ')} model served by this project's API.",
        "",
        "## Training data",
        "",
        f"- Data set: {facts.data.get('name', 'unnamed')}",
    ]
    source = facts.data.get("source", {})
    if source:
        where = ", ".join(f"{k}={v}" for k, v in source.items() if k != "sha256")
        lines.append(f"- Source: {where}")
        if source.get("sha256"):
            lines.append(f"- SHA-256 of the raw file: `{source['sha256']}`")
    for key in ("rows", "duplicates"):
        if key in facts.data_stats:
            lines.append(f"- {key.capitalize()} at validation: {facts.data_stats[key]}")
    lines += [
        "",
        "## Evaluation",
        "",
        f"On the held-out test split ({facts.test_rows} items); 95% intervals are Wilson intervals for proportions.",
        "",
        "| metric | value | 95% interval |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {value} | {span} |" for name, value, span in metric_rows(facts.metrics, facts.test_rows)]
    lines += ["", "### Slices", ""]
    if facts.slices:
        keys = list(facts.slices[0])
        lines += ["| " + " | ".join(keys) + " |", "| " + " | ".join("---" for _ in keys) + " |"]
        lines += ["| " + " | ".join(_cell(row[k]) for k in keys) + " |" for row in facts.slices]
        first = facts.slices[0]
        metric = next((k for k in keys if k not in ("slice", "group", "rows", "enough_rows")), keys[-1])
        if first.get("enough_rows", True):
            lines += [
                "",
                f"Worst slice: {first.get('slice')} = {first.get('group')} ({metric} {_cell(first[metric])}, {first.get('rows')} rows).",
            ]
    else:
        lines.append("No slice metrics were computed for this version.")
    lines += ["", "## Explanations", ""]
    if facts.explanation:
        lines.append("What the served model's own `/explain` leans on over test items (global summary):")
        lines += ["", "| label | term | importance |", "| --- | --- | --- |"]
        lines += [f"| {r['label']} | {r['term']} | {float(r['importance']):.4f} |" for r in facts.explanation]
    else:
        lines.append("No global explanation was recorded for this version.")
    lines += ["", "## Limitations", ""]
    lines += [f"- {item}" for item in facts.limitations] or [
        "- None recorded yet (`project.limitations` in the config)."
    ]
    lines += ["", "## Monitoring", ""]
    if facts.drift_signals:
        lines.append(
            "The drift monitor compares served traffic with the training reference on: "
            + ", ".join(f"`{s}`" for s in facts.drift_signals)
            + "."
        )
    else:
        lines.append("The drift monitor compares served traffic with the reference stored with the model.")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def to_html(markdown: str, title: str) -> str:
    """The Markdown card as a standalone HTML page (CommonMark with tables)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)
    style = "body{font-family:sans-serif;max-width:60rem;margin:2rem auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head><body>{body}</body></html>\n"
