"""The model folder: one owner of its layout, and the flavor-agnostic way to load it.

A model folder is what MLflow writes for a logged model (``MLmodel``, the flavor's files, the
project's code) plus the suite's own files. Only this module spells their names:

- ``extra_files/reference_profile.json``: the drift reference (``mlcore.monitoring.drift.build_profile``);
- ``extra_files/<name>``: task extras, e.g. the segment profiles of a clustering model;
- ``serving_metadata.json``: registry facts of an exported champion (version, run, data hashes).

``load(model_dir)`` returns the native model and the metadata logged with it, whatever the
flavor (see ``mlcore.lifecycle.flavors``); predictors load through it and never import a flavor module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.foundation.io import read_json, write_json

EXTRA_DIR = "extra_files"
REFERENCE_PROFILE = "reference_profile.json"
SERVING_METADATA = "serving_metadata.json"


@dataclass
class ModelFiles:
    """A loaded model folder: the native model, the metadata logged with it, the folder."""

    model: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path = Path()

    def extra(self, name: str, default: Any = None) -> Any:
        """The JSON extra file ``name`` shipped with the model (``default`` when it has none)."""
        return read_extra(self.path, name, default)


def extra_path(model_dir: str | Path, name: str) -> Path:
    return Path(model_dir) / EXTRA_DIR / name


def read_extra(model_dir: str | Path, name: str, default: Any = None) -> Any:
    path = extra_path(model_dir, name)
    return read_json(path) if path.exists() else default


def write_extras(folder: str | Path, profile: Mapping[str, Any], extras: Mapping[str, Any]) -> list[str]:
    """Write the reference profile and the task's extras into ``folder`` (for ``log_model``'s
    ``extra_files``); return their paths."""
    paths = [write_json(dict(profile), Path(folder) / REFERENCE_PROFILE)]
    paths += [write_json(data, Path(folder) / name) for name, data in extras.items()]
    return [str(p) for p in paths]


def reference_profile(model_dir: str | Path) -> dict[str, Any]:
    """The drift reference shipped with the model; a clear error when the model has none."""
    path = extra_path(model_dir, REFERENCE_PROFILE)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the model was not logged by the suite's train stage")
    return read_json(path)


def logged_metadata(model_dir: str | Path) -> dict[str, Any]:
    """The ``metadata`` logged with the model (threshold, labels, features, task type, ...)."""
    from mlflow.models import Model

    return dict(Model.load(str(model_dir)).metadata or {})


def load(model_dir: str | Path) -> ModelFiles:
    """The native model in ``model_dir`` through its flavor's loader, with its metadata."""
    from mlcore.lifecycle import flavors

    model_dir = Path(model_dir)
    return ModelFiles(flavors.load_native(model_dir), logged_metadata(model_dir), model_dir)


def serving_metadata_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / SERVING_METADATA
