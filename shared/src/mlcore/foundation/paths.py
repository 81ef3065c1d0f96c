"""Locate the project root and the suite's shared tracking store."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_MARKERS = ("dvc.yaml", "pyproject.toml")
SUITE_MARKER = ".mlsuite"


def project_root(start: str | Path | None = None) -> Path:
    """Return the nearest ancestor of ``start`` (default: cwd) holding ``dvc.yaml``.

    ``ML_PROJECT_ROOT`` overrides the search.
    """
    if env := os.environ.get("ML_PROJECT_ROOT"):
        return Path(env).resolve()
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if all((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    raise FileNotFoundError(
        f"no project root above {here}: expected a folder with {' and '.join(PROJECT_MARKERS)}; "
        "run the command from inside a project or set ML_PROJECT_ROOT"
    )


def store_root(project: str | Path) -> Path:
    """Where the default MLflow store lives.

    The suite root (the nearest ancestor holding a ``.mlsuite`` marker) so that one MLflow UI
    shows every project; a project baked outside the suite keeps its own store. ``ML_STORE_ROOT``
    overrides both.
    """
    if env := os.environ.get("ML_STORE_ROOT"):
        return Path(env).resolve()
    root = Path(project).resolve()
    for candidate in (root, *root.parents):
        if (candidate / SUITE_MARKER).exists():
            return candidate
    return root
