"""Hydra helpers: one way to compose, resolve and hand configs to plain functions.

Conventions shared by every project:
- ``version_base="1.3"``; each project's ``configs/config.yaml`` sets ``hydra.run.dir=.``,
  ``hydra.output_subdir=null`` and ``hydra.job.chdir=false``: no directory change, no output
  folders inside DVC stages.
- ``params.yaml`` is the fully composed config; DVC stages read it, ``make train`` writes it.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import DictConfig, OmegaConf

VERSION_BASE = "1.3"
T = TypeVar("T")


def compose(config_dir: str | Path, overrides: Sequence[str] = (), config_name: str = "config") -> DictConfig:
    """Compose ``config_name`` from ``config_dir`` in-process (tests, ``params.yaml``)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    config_dir = Path(config_dir).resolve()
    with initialize_config_dir(config_dir=str(config_dir), version_base=VERSION_BASE):
        cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
    OmegaConf.resolve(cfg)
    return cfg


def load_params(path: str | Path = "params.yaml") -> DictConfig:
    """Load the composed config that DVC stages read."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `make params` (or `make train`) to compose it from configs/")
    cfg = OmegaConf.load(path)
    assert isinstance(cfg, DictConfig)
    return cfg


OVERRIDES_LINE = "# Overrides: "


def write_params(cfg: DictConfig, path: str | Path = "params.yaml", overrides: Sequence[str] = ()) -> Path:
    """Write a composed config as ``params.yaml`` with a header saying where it comes from (and the
    overrides it was composed with, which ``recorded_overrides`` reads back)."""
    from mlcore.foundation.io import write_text

    body = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    header = "# Composed from configs/ by `make params` -- edit configs/, not this file.\n"
    if overrides:
        header += OVERRIDES_LINE + json.dumps(list(overrides)) + "\n"
    return write_text(path, header + body)


def recorded_overrides(path: str | Path = "params.yaml") -> list[str]:
    """The overrides ``params.yaml`` was composed with (none when it was composed from the defaults)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith("#"):
                break
            if line.startswith(OVERRIDES_LINE):
                return [str(x) for x in json.loads(line[len(OVERRIDES_LINE) :])]
    return []


def to_dict(cfg: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """Plain, resolved ``dict`` of a config (for logging and YAML)."""
    if isinstance(cfg, dict):
        return cfg
    out = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(out, dict)
    return out


SUBPACKAGES = ("foundation", "data", "lifecycle", "tasks", "fastpath", "serving", "monitoring", "training")


def code_fingerprints() -> dict[str, str]:
    """A short hash of each mlcore subpackage's source (what ``params.yaml``'s ``mlcore`` section
    records, so that DVC re-runs the stages whose mlcore code changed)."""
    import hashlib

    package = Path(__file__).resolve().parents[1]
    out = {}
    for name in SUBPACKAGES:
        digest = hashlib.sha256()
        for path in sorted((package / name).rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
        out[name] = digest.hexdigest()[:12]
    return out


def hydra_entry(
    config_dir: str | Path, config_name: str = "config"
) -> Callable[[Callable[[DictConfig], T]], Callable[[], T]]:
    """Decorate a plain ``fn(cfg)`` as a quiet ``@hydra.main`` command-line entry point."""
    import hydra

    def decorate(fn: Callable[[DictConfig], T]) -> Callable[[], T]:
        @functools.wraps(fn)
        def entry() -> T:
            result: dict[str, T] = {}

            @hydra.main(config_path=str(Path(config_dir).resolve()), config_name=config_name, version_base=VERSION_BASE)
            def _main(cfg: DictConfig) -> Any:
                result["value"] = fn(cfg)
                return result["value"]

            _main()
            return result.get("value")  # type: ignore[return-value]

        return entry

    return decorate


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mlcore.foundation.config [--config-dir configs] [--out params.yaml] [overrides...]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Compose configs/ into params.yaml")
    parser.add_argument("--config-dir", default="configs")
    parser.add_argument("--out", default="params.yaml")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=nb train.seed=1")
    args = parser.parse_args(argv)
    from hydra.errors import HydraException

    try:
        cfg = compose(args.config_dir, args.overrides)
    except HydraException as exc:
        print(f"error: bad override or config: {exc}", file=sys.stderr)
        return 2
    if "mlcore" in cfg:  # the config asks for the code fingerprints (see configs/config.yaml)
        cfg.mlcore = code_fingerprints()
    write_params(cfg, args.out, args.overrides)
    print(f"wrote {args.out} ({' '.join(args.overrides) or 'defaults'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
