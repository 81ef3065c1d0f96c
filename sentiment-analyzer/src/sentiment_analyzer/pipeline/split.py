"""Stage split: deduplicate, split train/val/test with a fixed seed, prove there is no leakage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlcore.data.splitting import dedupe, split
from mlcore.data.validation import leakage
from mlcore.foundation.config import load_params
from mlcore.foundation.progress import say
from omegaconf import DictConfig

from .. import PROJECT_ROOT


def split_dataset(cfg: DictConfig, root: Path = PROJECT_ROOT) -> dict[str, pd.DataFrame]:
    frame = pd.read_parquet(root / cfg.paths.table)
    key = list(cfg.data.schema.get("unique_key", []))
    unique = dedupe(frame, key)
    opts = cfg.train.split
    train, val, test = split(
        unique, opts.val_size, opts.test_size, opts.seed, opts.get("stratify"), fixed_test=opts.get("fixed_test")
    )
    if key:
        for name, other in (("val", val), ("test", test)):
            leaked = leakage(train, other, key)
            if leaked:
                raise SystemExit(f"split failed: {leaked} {name} row(s) also in train on {key}")
    out = root / cfg.paths.processed
    out.mkdir(parents=True, exist_ok=True)
    parts = {"train": train, "val": val, "test": test}
    for name, part in parts.items():
        part.to_parquet(out / f"{name}.parquet", index=False)
    say("split", f"{len(frame) - len(unique)} duplicates dropped; train {len(train)}, val {len(val)}, test {len(test)}")
    return parts


run = split_dataset  # the stage as a function of (cfg, root): what the tests' pipeline runner calls


def main() -> None:
    split_dataset(load_params(PROJECT_ROOT / "params.yaml"))


if __name__ == "__main__":
    main()
