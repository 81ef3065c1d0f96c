"""A project's serving image: a build context holding only what the Dockerfile copies, a tag that
names the project, the champion's version and the git commit, and OCI labels that say the same.

    python -m mlcore.deploy.image [--base REF]      # in a project folder, after `make train` (`make image`)

The context is staged in a temporary folder: the Dockerfile, the package, configs, params.yaml, the
exported champion (``paths.export``) and the serving pins with mlcore's wheel (from the suite's
checkout when the project sits in one, else the project's ``vendor/`` and pin files). Nothing else
of the project reaches the engine: no admin token, tracking store, data or ``.env``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.deploy.base import local_base
from mlcore.deploy.engine import Engine, EngineMissing, require_engine
from mlcore.foundation.io import read_json
from mlcore.lifecycle.artifacts import serving_metadata_path

SOURCES = ("Dockerfile", ".dockerignore", "pyproject.toml", "configs", "src")
PINS = ("requirements-serve.txt", "constraints.txt")
WHEEL_EPOCH = "315532800"  # 1980-01-01: the same mlcore source gives the same wheel bytes (a cached layer)
LABEL = "org.opencontainers.image"
SERVING_BASE = "localhost/mlsuite/serving-base:latest"  # the Dockerfiles' first stage, shared by every project


@dataclass
class Built:
    ref: str
    tags: list[str]
    seconds: float
    size_bytes: int
    labels: dict[str, str] = field(default_factory=dict)


def suite_of(project_root: Path) -> Path | None:
    """The suite checkout holding the project (its parent, with ``shared/pyproject.toml``), or None."""
    parent = project_root.resolve().parent
    return parent if (parent / "shared" / "pyproject.toml").exists() else None


def git_revision(root: Path) -> str:
    """The commit the project's files come from (``-dirty`` when they differ from it), or ``nogit``."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)  # noqa: S607

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return "nogit"
    dirty = git("status", "--porcelain", "--", ".").stdout.strip()
    return head.stdout.strip() + ("-dirty" if dirty else "")


def image_tags(project: str, version: str, revision: str) -> list[str]:
    """``localhost/<project>:v<version>-<commit>`` and ``localhost/<project>:latest``."""
    short = revision[:12] + ("-dirty" if revision.endswith("-dirty") else "")
    return [f"localhost/{project}:v{version}-{short}", f"localhost/{project}:latest"]


def image_labels(project: str, description: str, metadata: dict[str, Any], revision: str) -> dict[str, str]:
    """OCI annotations (title, version, revision, created) and the model's own (name, version, run)."""
    return {
        f"{LABEL}.title": project,
        f"{LABEL}.description": description,
        f"{LABEL}.version": f"v{metadata.get('version', 'unknown')}",
        f"{LABEL}.revision": revision,
        f"{LABEL}.created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "io.mlsuite.model.name": str(metadata.get("model_name", project)),
        "io.mlsuite.model.version": str(metadata.get("version", "unknown")),
        "io.mlsuite.model.run_id": str(metadata.get("run_id") or ""),
    }


def mlcore_wheel(suite: Path, dest: Path) -> Path:
    """Build mlcore's wheel from the suite's ``shared/`` into ``dest`` (same source, same bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "shared"
        shutil.copytree(suite / "shared", source, ignore=shutil.ignore_patterns("tests", "*.egg-info", "__pycache__"))
        subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                str(dest),
                str(source),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": WHEEL_EPOCH},
        )
    return next(dest.glob("mlsuite_core-*.whl"))


def stage_context(project_root: Path, dest: Path, export_dir: Path, params: Path) -> Path:
    """Copy into ``dest`` what the Dockerfile copies; the model and its params.yaml from wherever
    they were made (a test's temporary copy, or the project itself)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        src = project_root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    shutil.copy2(params, dest / "params.yaml")
    if not serving_metadata_path(export_dir).exists():
        raise FileNotFoundError(f"no exported champion at {export_dir}: run `make train` first")
    shutil.copytree(export_dir, dest / "models" / "champion")
    suite = suite_of(project_root)
    pins_from = suite or project_root
    for name in PINS:
        if not (pins_from / name).exists():
            raise FileNotFoundError(f"no {name} in {pins_from}: run `make vendor SUITE=<suite checkout>`")
        shutil.copy2(pins_from / name, dest / name)
    (dest / "vendor").mkdir()
    if suite is not None:
        mlcore_wheel(suite, dest / "vendor")
    else:
        wheels = sorted(glob.glob(str(project_root / "vendor" / "mlsuite_core-*.whl")))
        if not wheels:
            raise FileNotFoundError("no mlcore wheel in vendor/: run `make vendor SUITE=<suite checkout>`")
        shutil.copy2(wheels[-1], dest / "vendor")
    return dest


def build(
    project_root: Path,
    cfg: Any,
    *,
    engine: Engine | None = None,
    base: str | None = None,
    model_root: Path | None = None,
    log: Path | None = None,
    tags: list[str] | None = None,
) -> Built:
    """Build the project's image from its exported champion (under ``model_root``, default the
    project); ``base`` overrides the Dockerfile's ``BASE`` (default: the suite's local base if built);
    ``tags`` replace the default ones (tests tag their own, never the project's ``latest``)."""
    engine = engine or require_engine()
    model_root = model_root or project_root
    export_dir = model_root / cfg.paths.export
    metadata = read_json(serving_metadata_path(export_dir)) if serving_metadata_path(export_dir).exists() else {}
    revision = git_revision(project_root)
    project = str(cfg.project.name)
    tags = tags or image_tags(project, str(metadata.get("version", "unknown")), revision)
    labels = image_labels(project, f"{project}: serving image", metadata, revision)
    base = base or local_base(engine)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        context = stage_context(project_root, Path(tmp) / "context", export_dir, model_root / "params.yaml")
        common = ["build", *engine.build_flags(), *(["--build-arg", f"BASE={base}"] if base else [])]
        # the serving-base stage tagged first: a tag keeps its layers (the one big install) in the
        # store when a project's image is removed, so the next project's build reuses them
        first = [*common, "--target", "serving-base", "-t", SERVING_BASE]
        final = [*common, *(a for t in tags for a in ("-t", t))]
        final += [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
        out = open(log, "w", encoding="utf-8") if log else None  # noqa: SIM115 - closed below
        try:
            for cmd in (first, final):
                done = subprocess.run(  # noqa: S603
                    engine.cmd(*cmd, str(context)),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                    env=engine.environ(),
                )
                if done.returncode != 0:
                    break
        finally:
            if out:
                out.close()
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8")[-3000:] if log else ""
        raise RuntimeError(f"{engine.name} build of {tags[0]} failed (exit {done.returncode}) {tail}")
    size = int(engine.inspect(tags[0]).get("Size", 0))
    return Built(tags[0], tags, round(time.monotonic() - start, 1), size, labels)


def main(argv: list[str] | None = None) -> int:
    from mlcore.foundation.config import load_params
    from mlcore.foundation.paths import project_root

    parser = argparse.ArgumentParser(description="Build this project's serving image (the exported champion inside).")
    parser.add_argument(
        "--base", help="base image (default: the suite's Debian base when built, else the Dockerfile's)"
    )
    args = parser.parse_args(argv)
    root = project_root()
    cfg = load_params(root / "params.yaml")
    try:
        engine = require_engine()
        print(f"[image] {cfg.project.name}: building with {engine.name} (the first build installs the serving set)")
        built = build(root, cfg, engine=engine, base=args.base)
    except (EngineMissing, FileNotFoundError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"image: {exc}", file=sys.stderr)
        return 1
    print(f"[image] {' '.join(built.tags)}: {built.size_bytes / 1e6:.0f} MB, built in {built.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
