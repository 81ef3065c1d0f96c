"""``make retrain-on-drift``: the closed loop's trigger.

1. Run the project's monitor on recent traffic. No drift (or too little traffic to judge): do
   nothing and say so.
2. Drift: gather the labelled feedback of the prediction log as training rows (``rollout.retrain.feedback``):
   the logged request item plus the true outcome in the one column of the train split the item
   lacks (the label). Tasks whose items do not make training rows (no labels, or more than one
   missing column) retrain on the training data alone, and the command says why.
3. Re-run the pipeline with the overrides ``params.yaml`` was composed with (the current model's
   settings, ``recorded_overrides``), ``rollout.register_as=challenger`` and the feedback file as
   ``rollout.extra_data``: the candidate passes the offline gates or is not registered as
   ``@challenger``; ``@champion`` does not move.
4. Switch the running server (``serve.port``, or ``SERVE_URL``) to ``rollout.retrain.start_mode``
   with the new challenger (``POST /admin/rollout``).

Exit codes: 0 done or nothing to do; 1 the candidate failed the gates; 3 an error.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from mlcore.data.stages import split_path
from mlcore.foundation.config import recorded_overrides
from mlcore.foundation.io import read_json, write_parquet
from mlcore.foundation.progress import say
from mlcore.lifecycle.alias_commands import admin_call, server_url


def labelled_feedback(db: Path) -> pd.DataFrame:
    """Answered items with feedback: ``input`` (as logged), ``outcome`` (oldest first, one row per item)."""
    import sqlite3

    if not db.exists():
        return pd.DataFrame(columns=["input", "outcome"])
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "feedback" not in tables:
            return pd.DataFrame(columns=["input", "outcome"])
        rows = conn.execute(
            "SELECT p.input, f.outcome FROM feedback f JOIN predictions p "
            "ON p.request_id = f.request_id AND p.item = f.item AND p.arm != 'shadow' ORDER BY f.ts"
        ).fetchall()
    finally:
        conn.close()
    return pd.DataFrame({"input": [json.loads(r[0]) for r in rows], "outcome": [json.loads(r[1]) for r in rows]})


def training_rows(feedback: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame | None, str]:
    """Feedback as rows of the train split (``columns``), or None and why it cannot be."""
    if feedback.empty:
        return None, "no labelled feedback in the prediction log"
    first = feedback["input"].iloc[0]
    missing = [c for c in columns if c not in first]
    if len(missing) != 1:
        return (
            None,
            f"logged items lack {len(missing)} of the train split's columns ({', '.join(missing) or 'none'}), not just the label",
        )
    outcome = next(iter(feedback["outcome"].iloc[0]))
    if outcome == "responded":
        return None, "segment responses are not labels of this task's training data"
    frame = pd.DataFrame([{**{c: item.get(c) for c in columns if c != missing[0]}} for item in feedback["input"]])
    frame[missing[0]] = [o[outcome] for o in feedback["outcome"]]
    return frame[columns].dropna(), f"{len(frame)} labelled feedback rows ({missing[0]} from the feedback)"


def retrain_on_drift(cfg: DictConfig, root: Path, monitor: Callable[[], int]) -> int:
    root = Path(root)
    say("retrain", "step 1/4: drift check on recent traffic (the monitor)")
    code = monitor()
    if code == 0:
        say("retrain", "no drift: nothing to do")
        return 0
    if code == 2:
        say("retrain", "drift not judged (too little traffic or no model): nothing to do")
        return 0
    if code != 1:
        say("retrain", f"the monitor failed (exit {code}): nothing retrained")
        return 3
    say("retrain", "drift flagged")
    mine = ("rollout.register_as=", "rollout.extra_data=")
    kept = [o for o in recorded_overrides(root / "params.yaml") if not o.startswith(mine)]
    overrides = [*kept, "rollout.register_as=challenger"]  # the current model's own overrides kept
    if cfg.rollout.retrain.feedback:
        say("retrain", "step 2/4: labelled feedback as training rows")
        columns = list(pd.read_parquet(split_path(cfg, root, "train")).columns)
        rows, why = training_rows(labelled_feedback(root / cfg.serve.prediction_log), columns)
        if rows is None or rows.empty:
            say("retrain", f"retraining on the training data alone: {why}")
        else:
            digest = hashlib.md5(pd.util.hash_pandas_object(rows, index=False).values.tobytes()).hexdigest()[:12]  # noqa: S324
            path = Path(cfg.paths.feedback) / f"feedback-{digest}.parquet"
            write_parquet(rows, root / path)
            overrides.append(f"rollout.extra_data=['{path.as_posix()}']")
            say("retrain", f"{why} -> {path}")
    say("retrain", f"step 3/4: pipeline with {' '.join(overrides)}")
    composed = subprocess.run([sys.executable, "-m", "mlcore.foundation.config", *overrides], cwd=root, check=False)  # noqa: S603
    if composed.returncode != 0 or subprocess.run(["dvc", "repro"], cwd=root, check=False).returncode != 0:  # noqa: S607
        say("retrain", "the pipeline failed: nothing registered")
        return 3
    decision = read_json(root / cfg.paths.promotion)
    if not decision["promoted"]:
        say("retrain", f"candidate v{decision['version']} is not a challenger: {decision['reason']}")
        return 1
    mode = cfg.rollout.retrain.start_mode
    say("retrain", f"step 4/4: v{decision['version']} is @challenger; server at {server_url(cfg)} -> {mode}")
    answer = admin_call(cfg, "/admin/rollout", {"mode": mode, "reload": True}, root=root)
    if answer is None:
        say(
            "retrain",
            f"no server answers at {server_url(cfg)}: start one with `make serve OVERRIDES=rollout.mode={mode}`",
        )
    elif "mode" in answer:
        say(
            "retrain",
            f"server now in {answer['mode']} mode: challenger v{answer['challenger_version']} answers {answer['challenger_share']:.0%}",
        )
    else:
        say("retrain", f"the server refused the switch: {answer.get('error')}")
    return 0
