"""Online metrics from feedback, and the A/B test's sequential decision.

The test is a mixture sequential probability ratio test (mSPRT; Johari, Pekelis and Walsh,
"Always valid inference", 2017) on the difference of the per-item metric between the arms
(challenger minus champion), with a normal mixture of standard deviation ``tau`` over the
difference and plug-in variances. Its p-value and confidence interval stay valid however often
they are looked at: ``p_n = min(1, 1 / Lambda_n)`` running down, the interval the running
intersection of

    d_n +- sqrt( V (V + tau^2) / tau^2 * (log((V + tau^2) / V) + 2 log(1 / alpha)) ),
    V = s_a^2 / n_a + s_b^2 / n_b,   Lambda_n = sqrt(V / (V + tau^2)) exp(tau^2 d_n^2 / (2 V (V + tau^2))).

Decision rule (pre-registered with the experiment): once both arms have ``min_samples`` items
with feedback, the result is significant at the first look where ``p_n <= alpha``; the winner is
the arm the difference favours (lower is better for errors). ``tau`` is ``TAU_SD`` pooled
standard deviations of the metric: an effect of that size is where the test is most powerful.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TAU_SD = 0.2
LOOK_EVERY = 20  # items with feedback between two looks of the report's curve
# metric -> (higher is better, per-item value from (output, outcome))
METRICS = {
    "accuracy": True,
    "abs_error": False,
    "squared_error": False,
    "response": True,
}
DEFAULT_METRIC = {"label": "accuracy", "value": "abs_error", "response": "response"}


def item_metric(metric: str, output: dict[str, Any], outcome: dict[str, Any]) -> float:
    """The per-item value of ``metric`` for one answer and its true outcome."""
    if metric == "accuracy":
        return float(output.get("label") == outcome["label"])
    if metric in ("abs_error", "squared_error"):
        error = float(output["prediction"]) - float(outcome["value"])
        return abs(error) if metric == "abs_error" else error * error
    if metric == "response":
        return float(bool(outcome["responded"]))
    raise ValueError(f"unknown online metric {metric!r}: one of {', '.join(METRICS)}")


def resolve_metric(metric: str, kind: str) -> str:
    metric = DEFAULT_METRIC[kind] if metric == "auto" else metric
    if metric not in METRICS:
        raise ValueError(f"rollout.test.metric={metric!r} is not one of auto, {', '.join(METRICS)}")
    return metric


@dataclass
class Look:
    """The test after ``n_a`` + ``n_b`` items."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    difference: float
    p_value: float  # always valid: the running minimum
    low: float  # always-valid interval of the difference (running intersection)
    high: float


def sequential_test(
    values: np.ndarray, is_b: np.ndarray, alpha: float, tau: float | None = None, every: int = LOOK_EVERY
) -> list[Look]:
    """The test at every ``every``-th item of a stream (``values`` in arrival order, ``is_b``
    marks the challenger's items)."""
    values, is_b = np.asarray(values, dtype=float), np.asarray(is_b, dtype=bool)
    if tau is None:
        sd = float(np.std(values)) if len(values) > 1 else 1.0
        tau = TAU_SD * (sd if sd > 0 else 1.0)
    looks: list[Look] = []
    p, low, high = 1.0, -math.inf, math.inf
    ends = list(range(every, len(values) + 1, every))
    if not ends or ends[-1] != len(values):
        ends.append(len(values))
    for end in ends:
        a, b = values[:end][~is_b[:end]], values[:end][is_b[:end]]
        if len(a) < 2 or len(b) < 2:
            continue
        stat = _mixture_statistic(a, b, alpha, tau)
        if stat is None:
            continue
        d, lam, half = stat
        p = min(p, 1.0 / lam if lam > 0 else 1.0)
        low, high = max(low, d - half), min(high, d + half)
        looks.append(Look(len(a), len(b), float(a.mean()), float(b.mean()), d, min(p, 1.0), low, high))
    return looks


def _mixture_statistic(a: np.ndarray, b: np.ndarray, alpha: float, tau: float) -> tuple[float, float, float] | None:
    var = a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)
    if var <= 0:  # both arms constant so far: nothing to judge yet
        return None
    d = float(b.mean() - a.mean())
    t2 = tau * tau
    log_lam = 0.5 * math.log(var / (var + t2)) + t2 * d * d / (2 * var * (var + t2))
    half = math.sqrt(var * (var + t2) / t2 * (math.log((var + t2) / var) + 2 * math.log(1 / alpha)))
    return d, math.exp(min(log_lam, 700.0)), half


def simulate_false_positive_rate(
    p: float = 0.8,
    n: int = 2000,
    sims: int = 400,
    alpha: float = 0.05,
    min_samples: int = 100,
    every: int = 20,
    seed: int = 0,
) -> float:
    """Share of A/A experiments (both arms Bernoulli(p)) the test calls significant at any look."""
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(sims):
        values = (rng.random(n) < p).astype(float)
        is_b = rng.random(n) < 0.5
        looks = sequential_test(values, is_b, alpha, every=every)
        rejected += any(look.p_value <= alpha and min(look.n_a, look.n_b) >= min_samples for look in looks)
    return rejected / sims


@dataclass
class Decision:
    significant: bool
    winner: str | None  # "challenger" | "champion" | None
    effect: float | None  # challenger minus champion
    interval: list[float] | None
    p_value: float | None
    reason: str


def decide(looks: Sequence[Look], alpha: float, min_samples: int, higher_is_better: bool) -> Decision:
    """The first look past ``min_samples`` per arm with ``p <= alpha`` decides; else undecided."""
    for look in looks:
        if min(look.n_a, look.n_b) >= min_samples and look.p_value <= alpha:
            better_b = look.difference > 0 if higher_is_better else look.difference < 0
            winner = "challenger" if better_b else "champion"
            return Decision(
                True,
                winner,
                look.difference,
                [look.low, look.high],
                look.p_value,
                f"significant after {look.n_a} + {look.n_b} items: p = {look.p_value:.4f} <= alpha {alpha}",
            )
    last = looks[-1] if looks else None
    if last is None or min(last.n_a, last.n_b) < min_samples:
        have = f"{last.n_a} + {last.n_b}" if last else "0 + 0"
        return Decision(
            False, None, None, None, None, f"not enough feedback yet: {have} items, {min_samples} per arm needed"
        )
    return Decision(
        False,
        None,
        last.difference,
        [last.low, last.high],
        last.p_value,
        f"no significant difference yet after {last.n_a} + {last.n_b} items (p = {last.p_value:.3f} > {alpha})",
    )


def joined(db: str | Path, since: float | None = None, until: float | None = None) -> pd.DataFrame:
    """Answered items that have feedback: ts, version, arm, output, outcome (oldest first)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "feedback" not in tables:
            return pd.DataFrame(columns=["ts", "feedback_ts", "model_version", "arm", "output", "outcome"])
        query = (
            "SELECT p.ts, f.ts, p.model_version, p.arm, p.output, f.outcome FROM predictions p "
            "JOIN feedback f ON f.request_id = p.request_id AND f.item = p.item WHERE 1 = 1"
        )
        args: list[Any] = []
        if since is not None:
            query += " AND p.ts >= ?"
            args.append(since)
        if until is not None:
            query += " AND p.ts <= ?"
            args.append(until)
        rows = conn.execute(query + " ORDER BY f.ts, p.id", args).fetchall()
    finally:
        conn.close()
    frame = pd.DataFrame(rows, columns=["ts", "feedback_ts", "model_version", "arm", "output", "outcome"])
    frame["output"] = frame["output"].map(json.loads)
    frame["outcome"] = frame["outcome"].map(json.loads)
    return frame


def online_metrics(frame: pd.DataFrame, kind: str) -> dict[str, dict[str, float]]:
    """Per model version (answered rows and shadow rows alike): items with feedback and the
    task's online metrics (accuracy and macro F1; MAE and RMSE; response rate)."""
    out: dict[str, dict[str, float]] = {}
    for version, rows in frame.groupby("model_version", sort=True):
        figures: dict[str, float] = {"feedback_items": float(len(rows))}
        if kind == "label":
            from sklearn.metrics import f1_score

            truth = [o["label"] for o in rows["outcome"]]
            said = [str(o.get("label")) for o in rows["output"]]
            figures["accuracy"] = float(np.mean([t == s for t, s in zip(truth, said, strict=True)]))
            figures["f1_macro"] = float(f1_score(truth, said, average="macro", zero_division=0))
        elif kind == "value":
            errors = np.array(
                [
                    float(o["prediction"]) - float(t["value"])
                    for o, t in zip(rows["output"], rows["outcome"], strict=True)
                ]
            )
            figures["mae"] = float(np.abs(errors).mean())
            figures["rmse"] = float(np.sqrt((errors**2).mean()))
        else:
            figures["response_rate"] = float(np.mean([bool(t["responded"]) for t in rows["outcome"]]))
        out[str(version)] = figures
    return out


@dataclass
class Experiment:
    """An online test as registered when it started (``experiments`` table)."""

    id: int
    started: float
    mode: str
    share: float
    champion_version: str
    challenger_version: str
    metric: str
    alpha: float
    min_samples: int
    ended: float | None = None
    end_reason: str | None = None


def latest_experiment(db: str | Path) -> Experiment | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "experiments" not in tables:
            return None
        row = conn.execute(
            "SELECT id, started, mode, share, champion_version, challenger_version, metric, alpha, min_samples, "
            "ended, end_reason FROM experiments ORDER BY id DESC LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    return Experiment(*row) if row else None


@dataclass
class Analysis:
    experiment: dict[str, Any]
    metric: str
    higher_is_better: bool
    arms: dict[str, dict[str, Any]]
    decision: dict[str, Any]
    online_metrics: dict[str, dict[str, float]]
    curve: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def experiment_values(
    db: str | Path, experiment: Experiment
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """The experiment's joined rows, each arm's rows, and the per-item metric in feedback order
    with the challenger's items marked."""
    frame = joined(db, since=experiment.started, until=experiment.ended)
    a_rows = frame[(frame.model_version == experiment.champion_version) & (frame.arm != "shadow")]
    b_rows = frame[frame.model_version == experiment.challenger_version]
    stream = pd.concat([a_rows.assign(is_b=False), b_rows.assign(is_b=True)]).sort_values("feedback_ts", kind="stable")
    values = np.array(
        [item_metric(experiment.metric, o, t) for o, t in zip(stream["output"], stream["outcome"], strict=True)],
        dtype=float,
    )
    return frame, a_rows, b_rows, values, stream["is_b"].to_numpy(dtype=bool)


def thompson_share(
    a: np.ndarray,
    b: np.ndarray,
    higher_is_better: bool,
    floor: float = 0.05,
    draws: int = 4000,
    seed: int | None = None,
) -> float:
    """Thompson sampling's share for the challenger: the posterior probability that it is the better
    arm (Beta(1 + successes, 1 + failures) for 0/1 metrics, a normal around the mean with the
    standard error otherwise), kept within [floor, 1 - floor] so both arms keep learning. With no
    feedback on either arm the share is an even 0.5, not a sampled estimate of it (which would
    wander with every refresh while nothing is known)."""
    if len(a) == 0 and len(b) == 0:
        return float(np.clip(0.5, floor, 1 - floor))
    rng = np.random.default_rng(seed)

    def posterior(values: np.ndarray) -> np.ndarray:
        if len(values) and np.isin(values, (0.0, 1.0)).all():
            wins = float(values.sum())
            return rng.beta(1 + wins, 1 + len(values) - wins, draws)
        if len(values) < 2:
            return rng.normal(0.0, 1e6, draws)  # no evidence yet: anything goes
        return rng.normal(values.mean(), values.std(ddof=1) / np.sqrt(len(values)) + 1e-12, draws)

    pa, pb = posterior(np.asarray(a, dtype=float)), posterior(np.asarray(b, dtype=float))
    better = (pb > pa) if higher_is_better else (pb < pa)
    return float(np.clip(better.mean(), floor, 1 - floor))


def analyse(db: str | Path, kind: str, experiment: Experiment | None = None) -> Analysis | None:
    """The latest experiment (or ``experiment``) judged from the feedback; None when none started."""
    experiment = experiment or latest_experiment(db)
    if experiment is None:
        return None
    frame, a_rows, b_rows, values, is_b = experiment_values(db, experiment)
    metric = experiment.metric
    looks = sequential_test(values, is_b, experiment.alpha)
    higher = METRICS[metric]
    decision = decide(looks, experiment.alpha, experiment.min_samples, higher)
    arms = {}
    for arm, rows, version in (
        ("champion", a_rows, experiment.champion_version),
        ("challenger", b_rows, experiment.challenger_version),
    ):
        vals = values[is_b == (arm == "challenger")]
        arms[arm] = {
            "version": version,
            "feedback_items": int(len(rows)),
            metric: float(vals.mean()) if len(vals) else None,
        }
    return Analysis(
        experiment=asdict(experiment),
        metric=metric,
        higher_is_better=higher,
        arms=arms,
        decision=asdict(decision),
        online_metrics=online_metrics(frame, kind),
        curve=[asdict(look) for look in looks],
    )


def plot_curve(analysis: Analysis, path: Path) -> Path:
    """The metric of each arm over the experiment, and the always-valid interval of the difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = analysis.curve
    seen = [look["n_a"] + look["n_b"] for look in curve]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(seen, [look["mean_a"] for look in curve], label=f"champion v{analysis.arms['champion']['version']}")
    top.plot(seen, [look["mean_b"] for look in curve], label=f"challenger v{analysis.arms['challenger']['version']}")
    top.set_ylabel(analysis.metric)
    top.legend()
    top.set_title(f"{analysis.metric} per arm as feedback arrived")
    bottom.plot(seen, [look["difference"] for look in curve], color="black", label="challenger - champion")
    low = [max(look["low"], -1e9) for look in curve]
    high = [min(look["high"], 1e9) for look in curve]
    bottom.fill_between(
        seen, low, high, alpha=0.25, label=f"always-valid {1 - analysis.experiment['alpha']:.0%} interval"
    )
    bottom.axhline(0, color="grey", linewidth=0.8)
    settled = [look for look in curve if min(look["n_a"], look["n_b"]) >= 50] or curve
    span = max(max(abs(look["low"]), abs(look["high"])) for look in settled)
    bottom.set_ylim(-1.1 * span, 1.1 * span)  # the first looks' intervals are wide; show where it settles
    bottom.set_xlabel("items with feedback")
    bottom.set_ylabel("difference")
    bottom.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def render_html(analysis: Analysis, png: bytes | None) -> str:
    """The report for people: arms, traffic, online metrics, the decision, the curve."""
    import base64
    import html

    d, e = analysis.decision, analysis.experiment
    verdict = (
        f"<b>{html.escape(str(d['winner']))} wins</b>: effect {d['effect']:+.4f} "
        f"[{d['interval'][0]:+.4f}, {d['interval'][1]:+.4f}], p = {d['p_value']:.4g}"
        if d["significant"]
        else "<b>no decision yet</b>"
    )
    arms = "".join(
        f"<tr><td>{arm}</td><td>v{html.escape(str(a['version']))}</td><td>{a['feedback_items']}</td>"
        f"<td>{'' if a[analysis.metric] is None else f'{a[analysis.metric]:.4f}'}</td></tr>"
        for arm, a in analysis.arms.items()
    )
    online = "".join(
        f"<tr><td>v{html.escape(version)}</td><td>{html.escape(', '.join(f'{k} {v:.4g}' for k, v in figures.items()))}</td></tr>"
        for version, figures in analysis.online_metrics.items()
    )
    image = f'<img alt="metric over time" src="data:image/png;base64,{base64.b64encode(png).decode()}">' if png else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>A/B test</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:.2em .8em;text-align:left}}</style></head><body>
<h1>A/B test: {html.escape(e["mode"])}, challenger share {e["share"]:.0%}</h1>
<p>{verdict}. {html.escape(d["reason"])}.</p>
<p>Pre-registered: metric <code>{html.escape(analysis.metric)}</code> ({"higher" if analysis.higher_is_better else "lower"} is better),
alpha {e["alpha"]}, at least {e["min_samples"]} items with feedback per arm; mixture sequential probability ratio test.
Started {_when(e["started"])}{", ended " + _when(e["ended"]) + " (" + html.escape(str(e["end_reason"])) + ")" if e["ended"] else ""}.</p>
<table><tr><th>arm</th><th>version</th><th>items with feedback</th><th>{html.escape(analysis.metric)}</th></tr>{arms}</table>
<h2>Online metrics per version</h2><table>{online}</table>
{image}
</body></html>
"""


def _when(ts: float | None) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts or 0, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def write_report(analysis: Analysis, json_path: Path, html_path: Path) -> None:
    """``abtest.json`` (machines) and ``abtest.html`` with the curve (people), from the same figures."""
    from mlcore.foundation.io import write_json, write_text

    png_path = html_path.with_suffix(".png")
    png = plot_curve(analysis, png_path).read_bytes() if analysis.curve else None
    write_json(analysis.to_dict(), json_path)
    write_text(html_path, render_html(analysis, png))


def report_command(db: Path, kind: str, json_path: Path, html_path: Path) -> int:
    """``make abtest-report``: 0 written; 2 no experiment to report (nothing written)."""
    from mlcore.foundation.progress import say

    if not db.exists():
        say("abtest", f"no prediction log at {db}: serve traffic with a challenger first")
        return 2
    analysis = analyse(db, kind)
    if analysis is None:
        say("abtest", "no experiment yet: switch a server to shadow, canary or ab (POST /admin/rollout)")
        return 2
    write_report(analysis, json_path, html_path)
    d = analysis.decision
    arms = ", ".join(f"{arm} v{a['version']}: {a['feedback_items']} items" for arm, a in analysis.arms.items())
    say("abtest", f"{analysis.metric}: {arms}")
    say("abtest", f"decision: {d['winner'] + ' wins' if d['significant'] else 'none yet'} ({d['reason']})")
    say("abtest", f"reports: {json_path}, {html_path}")
    return 0
