"""Stage validate: check the canonical table against the schema in configs/data/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlcore.data.validation import ValidationReport, check_frame
from mlcore.foundation.config import load_params, to_dict
from mlcore.foundation.io import write_json
from mlcore.foundation.progress import say
from omegaconf import DictConfig

from .. import PROJECT_ROOT


def validate(cfg: DictConfig, root: Path = PROJECT_ROOT) -> ValidationReport:
    frame = pd.read_parquet(root / cfg.paths.interim)
    report = check_frame(frame, to_dict(cfg.data.schema))
    write_json(report.to_dict(), root / cfg.paths.reports / "validation.json")
    for warning in report.warnings:
        say("validate", f"warning: {warning}")
    return report


run = validate  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    report = validate(load_params(PROJECT_ROOT / "params.yaml"))
    if not report.ok:
        raise SystemExit("validate failed:\n  - " + "\n  - ".join(report.errors))
    say("validate", f"ok: {report.stats['rows']} rows")


if __name__ == "__main__":
    main()
