"""`make monitor`: compare recent traffic with the training reference; exit 1 on drift.

Reads the newest ``monitor.window`` rows of the prediction log, turns them into the drift signals
the model was profiled on at training time, and writes reports/drift.json (machines, also shown on
the API's /metrics) and reports/drift.html (people, Evidently).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mlcore import registry, tracking
from mlcore.config import hydra_entry, to_dict
from mlcore.drift import Thresholds
from mlcore.monitor import run as run_monitor
from mlcore.monitor import summary_lines
from mlcore.predlog import read_window
from omegaconf import DictConfig

from . import CONFIG_DIR, PROJECT_ROOT
from .schemas import load_predictor

PROFILE = Path("extra_files") / "reference_profile.json"


def monitor(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    tracking.configure(root, cfg.project.experiment)
    model = registry.load_export(root / cfg.paths.export)
    predictor = load_predictor(model.path)
    profile = json.loads((model.path / PROFILE).read_text(encoding="utf-8"))
    window = read_window(root / cfg.monitor.prediction_log, last=cfg.monitor.window)
    if window.empty:
        raise SystemExit(f"monitor: the prediction log {cfg.monitor.prediction_log} is empty; serve some traffic first")
    current = predictor.drift_frame(window["input"].tolist(), window["output"].tolist())
    report = run_monitor(
        profile,
        current,
        Thresholds.from_config(to_dict(cfg.monitor.thresholds)),
        root / cfg.monitor.report_json,
        root / cfg.monitor.report_html if cfg.monitor.html else None,
    )
    if len(current) < cfg.monitor.min_rows:
        report["drift_detected"] = False
        report["note"] = f"only {len(current)} rows (< monitor.min_rows={cfg.monitor.min_rows}): not judged"
    report["model_version"] = model.version
    (root / cfg.monitor.report_json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def main_fn(cfg: DictConfig) -> int:
    report = monitor(cfg)
    print("\n".join(summary_lines(report)))
    print(f"reports: {cfg.monitor.report_json}" + (f", {cfg.monitor.report_html}" if cfg.monitor.html else ""))
    return 1 if report["drift_detected"] else 0


def main() -> None:
    sys.exit(hydra_entry(CONFIG_DIR)(main_fn)())


if __name__ == "__main__":
    main()
