"""Stage profile: the segment report (reports/segments.html) and profiles (reports/segments.json).

Template-owned: edit templates/ml-project, then `make sync`.

Profiles every row of the table (train, validation and test splits) with the model's segments
and names, renders one self-contained HTML page with the plots, and logs both files to the
training run (artifact folder ``segments``).
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlcore.foundation.config import load_params
from mlcore.foundation.io import read_json, write_json
from mlcore.foundation.progress import say, step
from mlcore.lifecycle import tracking
from mlcore.lifecycle.runs import owned_run
from mlcore.tasks.segments import as_records, profile, write_report
from mlcore.tasks.stages import read_splits
from omegaconf import DictConfig
from sklearn.decomposition import PCA

from .. import PROJECT_ROOT
from ..predictor import load_predictor


def k_choice(cfg: DictConfig, k: int) -> str:
    """How k was chosen, in words (the report prints it above the profiles and under the curve)."""
    if cfg.model.get("n_clusters") is not None:
        return f"k = {k} is set in the model config (model.n_clusters)."
    sel = cfg.train.k_selection
    return (
        f"k = {k}: every k from {sel.k_min} to {sel.k_max} was fitted on the train split and scored on the "
        f"validation split (curve below). Among the k of at least {sel.choose_min} (train.k_selection.choose_min) "
        f"whose smallest segment holds at least {100 * sel.min_share:.0f}% of the rows, k = {k} has the best rank sum of "
        "silhouette (higher is better) and Davies-Bouldin (lower is better); ties go to the smaller k."
    )


def profile_report(cfg: DictConfig, root: Path = PROJECT_ROOT) -> list[dict]:
    tracking.configure(root, cfg.project.experiment)
    predictor = load_predictor(root / cfg.paths.model)
    table = pd.concat(read_splits(cfg, root).values(), ignore_index=True)
    columns = list(cfg.data.features.profile)
    labels, _ = predictor.assign(table)
    records = as_records(profile(table, labels, columns, cfg.data.features.get("value")), predictor.names)
    points = np.asarray(predictor.preprocess.transform(table[predictor.features]), dtype=float)
    projection = PCA(n_components=2, random_state=0).fit_transform(points) if points.shape[1] > 2 else points
    curve_path = root / cfg.paths.plots / "k_selection.csv"
    curve = pd.read_csv(curve_path) if curve_path.exists() else None
    metrics = read_json(root / cfg.paths.metrics)
    reports = root / cfg.paths.reports
    with step("profile", f"report on {len(table)} rows, {len(records)} segments"):
        html = write_report(
            reports / "segments.html",
            title=f"{cfg.project.name}: segments",
            records=records,
            table=table,
            labels=labels,
            projection=projection,
            columns=columns,
            metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
            curve=curve if curve is not None and len(curve) > 1 else None,
            notes=[f"model {cfg.model.name}, k={len(predictor.centres)}; {len(table)} rows (all splits)."],
            k_choice=k_choice(cfg, len(predictor.centres)),
        )
    out = write_json({"segments": records}, reports / "segments.json")
    run_id = read_json(root / cfg.paths.run_info)["run_id"]
    with owned_run(run_id=run_id):
        mlflow.log_artifact(str(html), artifact_path="segments")
        mlflow.log_artifact(str(out), artifact_path="segments")
    for r in records:
        say(
            "profile",
            f"{r['name']:<24} {100 * r['share']:5.1f} % of rows"
            + (f", {100 * r['value_share']:.1f} % of value" if "value_share" in r else ""),
        )
    return records


run = profile_report  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    profile_report(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
