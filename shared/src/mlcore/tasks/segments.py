"""Segments of a clustering model: choosing k, profiling segments, naming them, the HTML report.

Pure functions over tables, except ``write_report`` (one self-contained HTML file with the plots
embedded, so it opens from disk, from a DVC output or from an MLflow artifact alike).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlcore.foundation.io import write_text


def choose_k(curve: pd.DataFrame, min_k: int = 2, min_share: float = 0.0) -> int:
    """The k with the best rank sum of silhouette (higher is better) and Davies-Bouldin (lower is
    better) among rows with ``k >= min_k`` and ``min_share`` at or above ``min_share``; ties go to
    the smaller k. ``curve`` has columns k, silhouette, davies_bouldin, min_share."""
    candidates = curve[(curve["k"] >= min_k) & (curve["min_share"] >= min_share)].dropna(
        subset=["silhouette", "davies_bouldin"]
    )
    if candidates.empty:
        raise ValueError(
            f"no k in {curve['k'].tolist()} has k >= {min_k} and every cluster >= {min_share:.0%} of rows; "
            "lower train.k_selection.choose_min or min_share"
        )
    ranks = candidates["silhouette"].rank(ascending=False) + candidates["davies_bouldin"].rank(ascending=True)
    ordered = candidates.assign(rank_sum=ranks).sort_values(["rank_sum", "k"])
    return int(ordered["k"].iloc[0])


def profile(table: pd.DataFrame, labels: np.ndarray, columns: Sequence[str], value: str | None = None) -> pd.DataFrame:
    """One row per segment: size, share of rows, share of ``value`` (e.g. revenue) when given, and
    the mean and median of every column."""
    frame = table[list(columns)].astype(float).assign(segment=np.asarray(labels, dtype=int))
    grouped = frame.groupby("segment")
    out = pd.DataFrame({"size": grouped.size()})
    out["share"] = out["size"] / len(frame)
    if value is not None:
        total = float(table[value].sum())
        out["value_share"] = table[value].astype(float).groupby(frame["segment"]).sum() / (total or 1.0)
    means = grouped[list(columns)].mean().add_prefix("mean_")
    medians = grouped[list(columns)].median().add_prefix("median_")
    return pd.concat([out, means, medians], axis=1).reset_index()


def describe_names(prof: pd.DataFrame, columns: Sequence[str], overall: Mapping[str, float]) -> dict[int, str]:
    """Generic names: each segment after the feature where it differs most from everyone
    ("high waiting", "low eruptions"), relative to the overall mean; repeats get a number."""
    names: dict[int, str] = {}
    for _, row in prof.iterrows():
        gaps = {c: (row[f"mean_{c}"] - overall[f"mean_{c}"]) / (abs(overall[f"std_{c}"]) or 1.0) for c in columns}
        feature = max(gaps, key=lambda c: abs(gaps[c]))
        names[int(row["segment"])] = f"{'high' if gaps[feature] >= 0 else 'low'} {feature}"
    return unique_names(names, prof)


def unique_names(
    names: Mapping[int, str], prof: pd.DataFrame, order_by: str = "share", tier_label: str | None = None
) -> dict[int, str]:
    """Make names unique. Segments sharing a name are ranked by ``order_by`` (descending): with
    ``tier_label`` (e.g. "spend") and two or three of them they become "lost (high spend)",
    "lost (mid spend)", "lost (low spend)"; otherwise the first keeps the name and the next ones
    get " (2)", " (3)"..."""
    ranked = prof.sort_values(order_by, ascending=False)["segment"].astype(int).tolist()
    groups: dict[str, list[int]] = {}
    for segment in ranked:
        groups.setdefault(names[segment], []).append(segment)
    tiers = {2: ("high", "low"), 3: ("high", "mid", "low")}
    out: dict[int, str] = {}
    for name, members in groups.items():
        for i, segment in enumerate(members):
            if len(members) == 1:
                out[segment] = name
            elif tier_label and len(members) in tiers:
                out[segment] = f"{name} ({tiers[len(members)][i]} {tier_label})"
            else:
                out[segment] = name if i == 0 else f"{name} ({i + 1})"
    return {s: out[s] for s in sorted(out)}


def overall_stats(table: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    """Mean, standard deviation, median, quartiles and 90th percentile of each column."""
    stats: dict[str, float] = {}
    for c in columns:
        values = table[c].astype(float)
        stats[f"mean_{c}"] = float(values.mean())
        stats[f"std_{c}"] = float(values.std(ddof=0))
        stats[f"median_{c}"] = float(values.median())
        stats[f"q25_{c}"] = float(values.quantile(0.25))
        stats[f"q75_{c}"] = float(values.quantile(0.75))
        stats[f"q90_{c}"] = float(values.quantile(0.90))
    return stats


def as_records(prof: pd.DataFrame, names: Mapping[int, str]) -> list[dict[str, Any]]:
    """JSON-ready profile rows (what the API's /segments returns)."""
    records = []
    for row in prof.to_dict(orient="records"):
        segment = int(row.pop("segment"))
        record: dict[str, Any] = {"segment": segment, "name": names[segment], "size": int(row.pop("size"))}
        record.update({k: round(float(v), 4) for k, v in row.items()})
        records.append(record)
    return records


def _png(draw: Callable[[Any], None], size: tuple[float, float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=size)
    draw(fig)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


HEADERS = {
    "segment": "Segment",
    "name": "Name",
    "size": "Rows",
    "share": "Share of rows",
    "value_share": "Share of value",
}


def header(column: str) -> str:
    """A column name as people read it: ``mean_recency_days`` -> ``Mean recency days``."""
    if column in HEADERS:
        return HEADERS[column]
    text = column.replace("_", " ")
    return text[:1].upper() + text[1:]


def segment_colours(segments: Sequence[int]) -> dict[int, str]:
    """One colour per segment, the same in every plot and in the table."""
    import matplotlib

    palette = matplotlib.colormaps["tab10"]
    return {s: matplotlib.colors.to_hex(palette(i % 10)) for i, s in enumerate(sorted(segments))}


def _table_html(records: Sequence[Mapping[str, Any]], columns: Sequence[str], colours: Mapping[int, str]) -> str:
    head = "<th></th>" + "".join(f"<th>{html.escape(header(c))}</th>" for c in columns)
    rows = []
    for record in records:
        swatch = f"<td class=swatch style='background:{colours[int(record['segment'])]}'></td>"
        cells = []
        for c in columns:
            v = record.get(c, "")
            text = f"{v:.1%}" if "share" in c and isinstance(v, float) else (f"{v:,.2f}" if isinstance(v, float) else v)
            cells.append(f"<td>{html.escape(str(text))}</td>")
        rows.append("<tr>" + swatch + "".join(cells) + "</tr>")
    return f"<div class=scroll><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


def write_report(
    path: str | Path,
    *,
    title: str,
    records: Sequence[Mapping[str, Any]],
    table: pd.DataFrame,
    labels: np.ndarray,
    projection: np.ndarray,
    columns: Sequence[str],
    metrics: Mapping[str, float],
    curve: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
    k_choice: str | None = None,
) -> Path:
    """One HTML file: profile table, 2-D projection coloured by segment, per-segment feature
    distributions, segment sizes and value shares, and the k-selection curve when given, with
    ``k_choice`` (how k was chosen) in words. Each segment has one colour throughout."""
    names = {int(r["segment"]): str(r["name"]) for r in records}
    labels = np.asarray(labels, dtype=int)
    segments = sorted(names)
    colours = segment_colours(segments)

    def projection_plot(fig: Any) -> None:
        ax = fig.add_subplot()
        for s in segments:
            mask = labels == s
            ax.scatter(projection[mask, 0], projection[mask, 1], s=4, alpha=0.5, label=names[s], color=colours[s])
        ax.set_xlabel("component 1")
        ax.set_ylabel("component 2")
        ax.legend(fontsize=7, markerscale=3)
        ax.set_title("segments in two dimensions (PCA of the model's scaled features)")

    def distributions(fig: Any) -> None:
        n = len(columns)
        for i, c in enumerate(columns, start=1):
            ax = fig.add_subplot((n + 2) // 3, 3, i)
            values = [table[c].to_numpy(dtype=float)[labels == s] for s in segments]
            boxes = ax.boxplot(values, showfliers=False, patch_artist=True)
            for box, s in zip(boxes["boxes"], segments, strict=True):
                box.set_facecolor(colours[s])
            ax.set_xticks(
                range(1, len(segments) + 1), [names[s] for s in segments], rotation=30, fontsize=7, ha="right"
            )
            ax.set_title(header(c), fontsize=9)

    def sizes(fig: Any) -> None:
        ax = fig.add_subplot()
        x = np.arange(len(records))
        fill = [colours[int(r["segment"])] for r in records]
        ax.bar(x - 0.2, [r["share"] for r in records], width=0.4, color=fill, label="share of rows (solid)")
        if all("value_share" in r for r in records):
            ax.bar(x + 0.2, [r["value_share"] for r in records], width=0.4, color=fill, alpha=0.45, hatch="//",
                   edgecolor="#333333", label="share of value (hatched)")  # fmt: skip
        ax.set_xticks(x, [str(r["name"]) for r in records], rotation=20, fontsize=8)
        ax.legend()
        ax.set_title("segment sizes and value shares")

    def k_curve(fig: Any) -> None:
        assert curve is not None
        ax = fig.add_subplot()
        ax.plot(curve["k"], curve["silhouette"], "o-", label="silhouette (higher is better)")
        other = ax.twinx()
        other.plot(curve["k"], curve["davies_bouldin"], "s--", color="tab:red", label="Davies-Bouldin (lower)")
        chosen = len(segments)
        ax.axvline(chosen, color="#555555", linestyle=":", label=f"chosen k = {chosen}")
        ax.set_xlabel("k")
        ax.set_ylabel("silhouette")
        other.set_ylabel("Davies-Bouldin")
        ax.legend(loc="upper left", fontsize=7)
        other.legend(loc="upper right", fontsize=7)
        ax.set_title("choosing k (validation split)")

    figures = [
        ("Segments in two dimensions", _png(projection_plot, (7, 5))),
        ("Feature distributions per segment", _png(distributions, (11, 3.2 * ((len(columns) + 2) // 3)))),
        ("Sizes and value shares", _png(sizes, (7, 4))),
    ]
    if curve is not None:
        figures.append(("Choosing k", _png(k_curve, (7, 4))))
    captions = {"Choosing k": k_choice} if k_choice else {}
    profile_columns = ["segment", "name", "size", "share"]
    if all("value_share" in r for r in records):
        profile_columns.append("value_share")
    profile_columns += [f"mean_{c}" for c in columns]
    metric_items = "".join(f"<li>{html.escape(header(k))}: {v:.4f}</li>" for k, v in metrics.items())
    body = [
        f"<h1>{html.escape(title)}</h1>",
        *(f"<p>{html.escape(n)}</p>" for n in notes),
        f"<ul>{metric_items}</ul>",
        *([f"<p class=k-choice>{html.escape(k_choice)}</p>"] if k_choice else []),
        "<h2>Segment profiles</h2>",
        _table_html(records, profile_columns, colours),
        *(
            f'<h2>{html.escape(t)}</h2><img alt="{html.escape(t)}" src="data:image/png;base64,{b}">'
            + (f"<p>{html.escape(captions[t])}</p>" if t in captions else "")
            for t, b in figures
        ),
    ]
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
        ".scroll{overflow-x:auto;max-width:100%}"
        "table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th{background:#f3f3f3;white-space:normal;vertical-align:bottom}td.swatch{width:1em;padding:0}"
        "img{max-width:100%}.k-choice{background:#f6f6f6;padding:.6em 1em;border-left:4px solid #888}"
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
    return write_text(path, page)
