"""Compiled fast paths: fitted pipelines turned into plain numpy arrays for serving.

One entry point for each moment of a model's life:

- training: ``compile(native)`` tries every compiler in ``COMPILERS`` (each returns None for a
  pipeline it cannot express); ``save(scorer, folder, answers)`` writes its state next to the
  model, with the answers the *pipeline* gave on the model's input example;
- serving: ``FastModel.from_files(files)`` restores the scorer from that state with numpy alone,
  so a worker never imports scikit-learn for a compiled model, and loads the native model only
  when it has to; ``verify(predictor, model_dir, item_schema)`` scores the input example again
  and falls back to the native model (logged, and shown on ``/metrics``) when the answers differ.

A scorer is any object with ``kind`` (its module's name in ``COMPILERS``), ``state() -> (spec,
arrays)``, and its module a ``from_state(spec, arrays)`` that rebuilds it; how a predictor calls it (``proba``,
``predict_one``, ``assign``) is the predictor's business.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mlcore.foundation.io import read_json, write_json
from mlcore.lifecycle import artifacts, flavors

log = logging.getLogger(__name__)
COMPILERS: tuple[str, ...] = ("text_linear", "tabular_gbm", "nearest_centre")
TOLERANCE = 1e-6  # relative and absolute, on every number of an answer

__all__ = ["COMPILERS", "FastModel", "Scorer", "Status", "compile", "restore", "save", "save_checked", "verify"]


class Scorer(Protocol):
    kind: str

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...


@dataclass
class Status:
    """What serves a model: its compiled fast path (``kind``) or the native model, and why."""

    kind: str | None
    active: bool
    reason: str = ""


def _module(kind: str) -> Any:
    if kind not in COMPILERS:
        raise ValueError(f"unknown fast path {kind!r}; known: {', '.join(COMPILERS)}")
    return importlib.import_module(f"mlcore.fastpath.{kind}")


def compile(native: Any, **context: Any) -> Scorer | None:  # noqa: A001 - the package's verb
    """The first compiler's scorer for ``native`` (context: e.g. ``features``), or None."""
    for kind in COMPILERS:
        scorer = _module(kind).compile(native, **context)
        if scorer is not None:
            return scorer
    return None


def save(scorer: Scorer, folder: str | Path, answers: Sequence[Mapping[str, Any]]) -> list[str]:
    """Write ``scorer``'s state and the pipeline's ``answers`` on the input example into ``folder``
    (for the logged model's extra files); return the paths."""
    spec, arrays = scorer.state()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = write_json({"kind": scorer.kind, "spec": spec, "answers": list(answers)}, folder / artifacts.FASTPATH_SPEC)
    npz = folder / artifacts.FASTPATH_ARRAYS
    with open(npz, "wb") as fh:
        np.savez(fh, **{name: np.asarray(value) for name, value in arrays.items()})
    return [str(meta), str(npz)]


def restore(model_dir: str | Path) -> tuple[Scorer | None, dict[str, Any]]:
    """The scorer saved with a model (numpy only) and its record, or ``(None, {})`` when it has none."""
    meta_path = artifacts.extra_path(model_dir, artifacts.FASTPATH_SPEC)
    if not meta_path.exists():
        return None, {}
    record = read_json(meta_path)
    with np.load(artifacts.extra_path(model_dir, artifacts.FASTPATH_ARRAYS), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return _module(record["kind"]).from_state(record["spec"], arrays), record


class FastModel:
    """A model as a predictor scores it: the compiled ``fast`` scorer when there is one, else the
    ``native`` model (loaded on first use, so a compiled model never imports its library)."""

    def __init__(self, native: Any = None, fast: Any = None, *, load_native: Callable[[], Any] | None = None) -> None:
        self._native, self._load_native = native, load_native
        self.fast = fast
        self.status = Status(getattr(fast, "kind", None), fast is not None, "" if fast else "no fast path")

    @classmethod
    def of(cls, model: Any, **context: Any) -> FastModel:
        """``model`` when it is a FastModel already, else a fitted native model compiled now."""
        return model if isinstance(model, FastModel) else cls.compiled(model, **context)

    @classmethod
    def compiled(cls, native: Any, **context: Any) -> FastModel:
        """For a model just fitted: compile it now."""
        model = cls(native, compile(native, **context))
        if model.fast is None:
            model.status.reason = "no compiler handles this model"
        return model

    @classmethod
    def from_files(cls, files: flavors.ModelFiles) -> FastModel:
        """For a model folder: the saved scorer (numpy only) and the native model on demand."""
        scorer, _ = restore(files.path)
        model = cls(fast=scorer, load_native=lambda: files.model)
        if scorer is None:
            model.status.reason = "the model was logged without a fast path"
        return model

    @property
    def native(self) -> Any:
        if self._native is None and self._load_native is not None:
            self._native = self._load_native()
        return self._native

    def fall_back(self, reason: str) -> None:
        """Serve with the native model from now on."""
        log.warning("fast path disabled, serving the native model", extra={"kind": self.status.kind, "reason": reason})
        self.fast = None
        self.status = Status(self.status.kind, False, reason)

    @contextmanager
    def native_only(self) -> Iterator[None]:
        """Score with the native model inside the block (the reference answers for parity)."""
        fast, self.fast = self.fast, None
        try:
            yield
        finally:
            self.fast = fast


def save_checked(predictor: Any, answer: Callable[[], Sequence[Mapping[str, Any]]], folder: str | Path) -> list[str]:
    """At training: ``answer()`` (the predictor on the input example) with the native model, then
    with the fast path; the fast path is saved with those answers only when the two agree."""
    model = getattr(predictor, "model", None)
    if not isinstance(model, FastModel) or model.fast is None:
        return []
    with model.native_only():
        expected = [dict(row) for row in answer()]
    problems = differences([dict(row) for row in answer()], expected)
    if problems:
        log.warning("fast path differs from the pipeline, not saved", extra={"problems": problems[:3]})
        return []
    return save(model.fast, folder, expected)


def differences(got: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where two lists of answers differ (numbers within ``TOLERANCE``); empty when they agree."""
    if len(got) != len(expected):
        return [f"{len(got)} answers, expected {len(expected)}"]
    out = []
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key), b.get(key)
            if not _same(x, y):
                out.append(f"answer {i}.{key}: {x!r} != {y!r}")
    return out


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(x, bool):
        return math.isclose(float(x), float(y), rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    if isinstance(x, list | tuple) and isinstance(y, list | tuple):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y, strict=True))
    return x == y


def verify(predictor: Any, model_dir: str | Path, item_schema: Any) -> Status | None:
    """Parity at load time: the predictor's answers on the model's input example against the
    pipeline's answers recorded at training. A mismatch (or a scorer that fails) switches the
    predictor to its native model. None for a predictor without a ``FastModel``."""
    model = getattr(predictor, "model", None)
    if not isinstance(model, FastModel):
        return None
    if model.fast is None:
        return model.status
    _, record = restore(model_dir)
    rows = artifacts.input_example_rows(model_dir)
    if not rows or "answers" not in record:
        model.fall_back("no input example or recorded answers to check the fast path against")
        return model.status
    try:
        items = [item_schema.model_validate({k: v for k, v in row.items() if not _missing(v)}) for row in rows]
        problems = differences(predictor.predict(items), record["answers"])
    except Exception as exc:  # noqa: BLE001 - any failure of the compiled path means: do not use it
        problems = [f"{type(exc).__name__}: {exc}"]
    if problems:
        model.fall_back("parity check failed: " + "; ".join(problems[:3]))
    else:
        model.status.reason = f"parity checked on {len(rows)} input example rows"
    return model.status


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
