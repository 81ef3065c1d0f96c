"""Stage validate: check the canonical table against the schema in configs/data/.

Template-owned: edit templates/ml-project, then `make sync`. The stage is
``mlcore.data.stages.validate``.
"""

from __future__ import annotations

from pathlib import Path

from mlcore.data import stages
from mlcore.data.validation import ValidationReport
from mlcore.foundation.config import load_params
from mlcore.foundation.progress import say
from omegaconf import DictConfig

from .. import PROJECT_ROOT


def validate(cfg: DictConfig, root: Path = PROJECT_ROOT) -> ValidationReport:
    return stages.validate(cfg, root)


run = validate  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    report = validate(load_params(PROJECT_ROOT / "params.yaml"))
    if not report.ok:
        raise SystemExit("validate failed:\n  - " + "\n  - ".join(report.errors))
    say("validate", f"ok: {report.stats['rows']} rows")


if __name__ == "__main__":
    main()
