"""`make monitor`: compare recent traffic with the training reference.

Template-owned: edit templates/ml-project, then `make sync`.

Reads the newest ``monitor.window`` rows of the prediction log, turns them into the drift signals
the model was profiled on at training time, and writes reports/drift.json (machines, also shown on
the API's /metrics) and reports/drift.html (people) from the same figures, and every run, whatever
its outcome, as Prometheus metrics in reports/monitor.prom (``mlcore.monitoring.metrics_file``). Exit codes: 0 no drift,
1 drift, 2 not judged (too little traffic, no model or reference), 3 an error (``mlcore.monitoring.report``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mlcore.foundation.config import hydra_entry, to_dict
from mlcore.lifecycle import artifacts, registry, tracking
from mlcore.monitoring.drift import Thresholds
from mlcore.monitoring.report import CannotJudge, command
from mlcore.monitoring.report import run as run_monitor
from mlcore.serving.predlog import read_window
from omegaconf import DictConfig

from . import CONFIG_DIR, PROJECT_ROOT
from .predictor import SERVED


def monitor(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    tracking.configure(root, cfg.project.experiment)
    try:
        model = registry.load_export(root / cfg.paths.export)
        profile = artifacts.reference_profile(model.path)
    except FileNotFoundError as exc:
        raise CannotJudge(f"no model or reference profile to compare with ({exc}); run `make train` first") from exc
    log_path = root / cfg.monitor.prediction_log
    window = read_window(log_path, last=cfg.monitor.window) if log_path.exists() else None
    if window is None or window.empty:
        raise CannotJudge(f"the prediction log {cfg.monitor.prediction_log} is empty; serve some traffic first")
    predictor = SERVED.load(model.path)
    current = predictor.drift_frame(window["input"].tolist(), window["output"].tolist())
    return run_monitor(
        profile,
        current,
        Thresholds.from_config(to_dict(cfg.monitor.thresholds)),
        root / cfg.monitor.report_json,
        root / cfg.monitor.report_html if cfg.monitor.html else None,
        min_rows=cfg.monitor.min_rows,
        extra={"model_version": model.version},
    )


def main_fn(cfg: DictConfig) -> int:
    outputs = f"{cfg.monitor.report_json}" + (f", {cfg.monitor.report_html}" if cfg.monitor.html else "")
    return command(lambda: monitor(cfg), outputs, PROJECT_ROOT / cfg.monitor.metrics_file)


def main() -> None:
    sys.exit(hydra_entry(CONFIG_DIR)(main_fn)())


if __name__ == "__main__":
    main()
