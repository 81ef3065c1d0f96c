"""The model folder: one owner of its layout, and the flavor-agnostic way to load it.

A model folder is what MLflow writes for a logged model (``MLmodel``, the flavor's files, the
project's code) plus the suite's own files. Only this module spells their names:

- ``extra_files/reference_profile.json``: the drift reference (``mlcore.monitoring.drift.build_profile``);
- ``extra_files/<name>``: task extras, e.g. the segment profiles of a clustering model;
- ``extra_files/fastpath.json`` + ``fastpath.npz``: the compiled fast path (``mlcore.fastpath``);
- ``MLmodel`` and ``input_example.json``: MLflow's, read here with PyYAML and json (no MLflow import);
- ``serving_metadata.json``: registry facts of an exported champion (version, run, data hashes).

Loading the native model, whatever its flavor, is ``mlcore.lifecycle.flavors.load`` (above this
module: the flavors read the layout, the layout knows no flavor).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlcore.foundation.io import read_json, write_json

EXTRA_DIR = "extra_files"
REFERENCE_PROFILE = "reference_profile.json"
SERVING_METADATA = "serving_metadata.json"
FASTPATH_SPEC = "fastpath.json"
FASTPATH_ARRAYS = "fastpath.npz"
MLMODEL = "MLmodel"
INPUT_EXAMPLE = "input_example.json"


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


def mlmodel(model_dir: str | Path) -> dict[str, Any]:
    """MLflow's ``MLmodel`` file of a model folder (flavors, metadata, signature), as a dict."""
    import yaml

    path = Path(model_dir) / MLMODEL
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {model_dir} is not a model folder written by MLflow")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def logged_metadata(model_dir: str | Path) -> dict[str, Any]:
    """The ``metadata`` logged with the model (threshold, labels, features, task type, ...)."""
    return dict(mlmodel(model_dir).get("metadata") or {})


def input_example_rows(model_dir: str | Path) -> list[dict[str, Any]]:
    """The model's input example (MLflow's split-oriented ``input_example.json``) as rows; [] if none."""
    path = Path(model_dir) / INPUT_EXAMPLE
    if not path.exists():
        return []
    example = read_json(path)
    return [dict(zip(example["columns"], row, strict=True)) for row in example["data"]]


def serving_metadata_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / SERVING_METADATA
