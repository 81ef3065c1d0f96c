"""The registered model as MLflow's own tools see it: ``mlflow.pyfunc`` and ``mlflow models serve``.

A model is saved with two flavors. The native one (``mlcore.lifecycle.flavors``: ``sklearn`` with skops today)
is the raw fitted model, for people who want the estimator. ``python_function`` answers exactly as the suite's ``POST /predict``: each row
of the input frame is validated by the project's request schema and scored by its predictor (both
from the project's ``ServedModel``, ``mlcore.foundation.served``), one answer row per input row
(label and probability, price and interval, segment). The project's package and mlcore are saved in
the model's ``code/`` folder, so it loads where neither is installed; the flavor records where the
``ServedModel`` lives (its ``home``), the one reference the loader resolves.

This module is an MLflow custom flavor: ``save_model`` writes the folder (``Model.log`` calls it)
and ``_load_pyfunc`` is the loader the ``python_function`` flavor names.
"""

from __future__ import annotations

import math
import pkgutil
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mlcore.foundation.served import ServedModel, ServedPredictor

SERVED_KEY = "served_model"  # key of the python_function flavor: where the project's ServedModel lives
_PY_TYPES = {float: "double", int: "long", str: "string", bool: "boolean"}


class SuiteModel:
    """The pyfunc face of a project predictor: a frame of request rows in, a frame of answers out."""

    def __init__(self, served: ServedModel, predictor: ServedPredictor) -> None:
        self.served = served
        self.predictor = predictor

    def items(self, frame: pd.DataFrame) -> list[Any]:
        from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
        from pydantic import ValidationError

        items = []
        for index, row in enumerate(frame.to_dict(orient="records")):
            present = {k: v for k, v in row.items() if not _missing(v)}
            try:
                items.append(self.served.item.model_validate(present))
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in first["loc"]) or "row"
                raise MlflowException(f"row {index}: {where}: {first['msg']}", INVALID_PARAMETER_VALUE) from None
        return items

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

        from mlcore.foundation.errors import InputError

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        try:
            answers = self.predictor.predict(self.items(frame))
        except InputError as exc:
            raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from None
        return pd.DataFrame(answers)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def input_schema(item_schema: Any, columns: Sequence[str]) -> Any:
    """MLflow column schema of the request fields in ``columns``: types and required-ness from pydantic."""
    import types
    from typing import Literal, Union, get_args, get_origin

    from mlflow.types import ColSpec, Schema

    specs = []
    for name in columns:
        field = item_schema.model_fields[name]
        kind = field.annotation
        present = [a for a in get_args(kind) if a is not type(None)]
        if get_origin(kind) in (Union, types.UnionType) and len(present) == 1:
            kind = present[0]
        if get_origin(kind) is Literal:
            kind = type(get_args(kind)[0])
        specs.append(ColSpec(_PY_TYPES.get(kind, "string"), name, required=field.is_required()))
    return Schema(specs)


def package_code(packages: Sequence[str], dest: Path) -> list[str]:
    """Copies of the named (imported) packages' source folders (no caches) under ``dest``, for ``code_paths``."""
    paths = []
    for name in packages:
        source = Path(sys.modules[name].__file__).parent  # type: ignore[arg-type]
        target = dest / name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        paths.append(str(target))
    return paths


def save_model(
    path: str,
    mlflow_model: Any = None,
    *,
    native_model: Any,
    served_home: str,
    code_paths: Sequence[str],
    **flavor_kwargs: Any,
) -> None:
    """Save ``native_model`` with its native flavor (``mlcore.lifecycle.flavors``), then point
    ``python_function`` at this module."""
    from mlflow.models import Model

    from mlcore.lifecycle.flavors import for_model

    mlflow_model = mlflow_model if mlflow_model is not None else Model()
    for_model(native_model).save(native_model, path, mlflow_model, code_paths, **flavor_kwargs)
    conf = mlflow_model.flavors["python_function"]
    conf["loader_module"] = __name__
    conf[SERVED_KEY] = served_home
    conf.pop("predict_fn", None)
    mlflow_model.save(str(Path(path) / "MLmodel"))


def log_model(name: str, **kwargs: Any) -> Any:
    """``Model.log`` with this flavor (the run must be active); returns MLflow's ModelInfo."""
    from mlflow.models import Model

    return Model.log(artifact_path=None, name=name, flavor=sys.modules[__name__], **kwargs)


def load(model_dir: str | Path) -> SuiteModel:
    """The pyfunc implementation of a local model folder (what ``mlflow.pyfunc`` builds on)."""
    from mlflow.models import Model

    model_dir = Path(model_dir)
    from mlflow.exceptions import MlflowException

    conf = Model.load(str(model_dir)).flavors["python_function"]
    if SERVED_KEY not in conf:
        raise MlflowException(
            f"{model_dir} was saved by an older mlcore (no {SERVED_KEY!r}): retrain it with `make train`"
        )
    served = pkgutil.resolve_name(conf[SERVED_KEY])
    if not isinstance(served, ServedModel):
        raise MlflowException(f"{conf[SERVED_KEY]} is a {type(served).__name__}, not a ServedModel")
    return SuiteModel(served, served.load(model_dir))


def _load_pyfunc(path: str, model_config: Any = None) -> SuiteModel:
    model_dir = Path(path)
    return load(model_dir.parent if model_dir.is_file() else model_dir)
