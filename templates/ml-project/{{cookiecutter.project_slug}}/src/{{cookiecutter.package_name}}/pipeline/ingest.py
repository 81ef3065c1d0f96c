"""Stage ingest: fetch the raw data (verified) and parse it into the canonical table.

Template-owned: edit templates/ml-project, then `make sync`. The stage is
``mlcore.data.stages.ingest`` over this project's ``data.parse_raw``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlcore.data import stages
from mlcore.data.acquire import AcquisitionError
from mlcore.foundation.config import load_params
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..data import parse_raw


def ingest(cfg: DictConfig, root: Path = PROJECT_ROOT) -> pd.DataFrame:
    return stages.ingest(parse_raw, cfg, root)


run = ingest  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    try:
        ingest(load_params(PROJECT_ROOT / "params.yaml"))
    except AcquisitionError as exc:
        raise SystemExit(f"ingest failed: {exc}") from None


if __name__ == "__main__":
    main()
