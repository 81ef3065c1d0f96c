"""Files written whole or not at all: every file the suite writes goes through here.

Each writer writes a temporary file beside the target and renames it into place, so a reader
(DVC, the API reading the drift report, a person) never sees a half-written file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(data: Mapping[str, Any] | list[Any], path: str | Path) -> Path:
    """``data`` as indented JSON (values JSON cannot hold are written as strings)."""
    return write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_parquet(frame: Any, path: str | Path) -> Path:
    """A pandas frame as parquet (no index)."""
    return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
