"""Stage ingest: fetch the raw data (verified) and parse it into the canonical table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlcore.data.acquire import AcquisitionError, Source, fetch
from mlcore.foundation.config import load_params
from mlcore.foundation.io import write_parquet
from mlcore.foundation.progress import say, step
from omegaconf import DictConfig

from .. import PROJECT_ROOT
from ..data import parse_raw


def ingest(cfg: DictConfig, root: Path = PROJECT_ROOT) -> pd.DataFrame:
    source = Source.from_config(cfg.data.source)
    raw = root / cfg.paths.raw
    with step("ingest", f"fetch {source.describe()}"):
        fetch(source, raw, project=root)
    with step("ingest", "parse"):
        frame = parse_raw(raw, cfg.data)
    write_parquet(frame, root / cfg.paths.interim)
    say("ingest", f"{len(frame)} rows -> {cfg.paths.interim}")
    return frame


run = ingest  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    try:
        ingest(load_params(PROJECT_ROOT / "params.yaml"))
    except AcquisitionError as exc:
        raise SystemExit(f"ingest failed: {exc}") from None


if __name__ == "__main__":
    main()
