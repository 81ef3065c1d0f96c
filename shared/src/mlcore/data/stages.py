"""The data stages, once for every project: ingest, validate and split.

They use only the data layer and foundation, so the DVC stages that run them depend on those
fingerprints alone (a change to training code does not fetch the data again). A project's
``pipeline/ingest.py``, ``validate.py`` and ``split.py`` only bind these to its parser and its root.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from mlcore.data.acquire import Source, fetch
from mlcore.data.splitting import dedupe
from mlcore.data.splitting import split as split_frame
from mlcore.data.validation import ValidationReport, check_frame, leakage
from mlcore.foundation.config import to_dict
from mlcore.foundation.io import write_json, write_parquet
from mlcore.foundation.progress import say, step

SPLITS = ("train", "val", "test")
ParseRaw = Callable[[Path, DictConfig], pd.DataFrame]  # a project's data.parse_raw(raw folder, cfg.data)


def split_path(cfg: DictConfig, root: Path, name: str) -> Path:
    return Path(root) / cfg.paths.processed / f"{name}.parquet"


def ingest(parse_raw: ParseRaw, cfg: DictConfig, root: Path) -> pd.DataFrame:
    """Fetch the raw data (verified) and parse it into the canonical table (``paths.interim``)."""
    source = Source.from_config(cfg.data.source)
    raw = Path(root) / cfg.paths.raw
    with step("ingest", f"fetch {source.describe()}"):
        fetch(source, raw, project=root)
    with step("ingest", "parse"):
        frame = parse_raw(raw, cfg.data)
    write_parquet(frame, Path(root) / cfg.paths.interim)
    say("ingest", f"{len(frame)} rows -> {cfg.paths.interim}")
    return frame


def validate(cfg: DictConfig, root: Path) -> ValidationReport:
    """Check the canonical table against the schema in ``configs/data/``; the report is written."""
    frame = pd.read_parquet(Path(root) / cfg.paths.interim)
    report = check_frame(frame, to_dict(cfg.data.schema))
    write_json(report.to_dict(), Path(root) / cfg.paths.validation)
    for warning in report.warnings:
        say("validate", f"warning: {warning}")
    return report


def split(cfg: DictConfig, root: Path) -> dict[str, pd.DataFrame]:
    """Deduplicate, split train/val/test with a fixed seed, prove there is no leakage on the key,
    and write each split whole or not at all."""
    frame = pd.read_parquet(Path(root) / cfg.paths.table)
    key = list(cfg.data.schema.get("unique_key", []))
    unique = dedupe(frame, key)
    opts = cfg.train.split
    train, val, test = split_frame(
        unique, opts.val_size, opts.test_size, opts.seed, opts.get("stratify"), fixed_test=opts.get("fixed_test")
    )
    if key:
        for name, other in (("val", val), ("test", test)):
            leaked = leakage(train, other, key)
            if leaked:
                raise SystemExit(f"split failed: {leaked} {name} row(s) also in train on {key}")
    parts = {"train": train, "val": val, "test": test}
    for name, part in parts.items():
        write_parquet(part, split_path(cfg, root, name))
    say("split", f"{len(frame) - len(unique)} duplicates dropped; train {len(train)}, val {len(val)}, test {len(test)}")
    return parts
