"""The served-model contract: everything a project serves, as one typed value.

Each project's ``src/<package>/predictor.py`` defines its predictor (a ``ServedPredictor``) and
ends with one ``SERVED = ServedModel(...)``. The API, the monitor, the smoke check, the train stage
and the MLflow pyfunc flavor read that value and nothing else of the project's serving code: no
module is looked up by name, no attribute is probed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

Execution = Literal["inline", "thread", "batch"]
EXECUTIONS: tuple[str, ...] = ("inline", "thread", "batch")


class ServedPredictor(ABC):
    """What the API runs: request items in, one answer dict per item out.

    ``execution`` says how the server runs ``predict`` (``mlcore.serving.predictor``): ``inline``
    on the event loop (microsecond scorers), ``thread`` in the thread pool (blocking work) or
    ``batch`` (concurrent requests share one call). ``labels`` are the labels ``POST /feedback``
    accepts (classifiers); None where answers have no labels.
    """

    execution: ClassVar[Execution] = "inline"
    labels: list[str] | None = None

    @abstractmethod
    def predict(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        """One answer per item, in order; a bad item raises ``mlcore.foundation.errors.InputError``."""

    @abstractmethod
    def drift_frame(
        self, inputs: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]] | None = None
    ) -> pd.DataFrame:
        """The drift signals of logged inputs (and their answers, when given) that the monitor
        compares with the training reference."""

    def explain(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        """One answer per item with its ``explanation`` (a dict: ``method``, the base value, the
        terms for and against, ...; the task type's method). A predictor without one raises
        ``NotImplementedError`` and ``POST /explain`` answers 501."""
        raise NotImplementedError(f"{type(self).__name__} explains nothing yet")

    def log_inputs(self, items: Sequence[Any]) -> list[dict[str, Any]] | None:
        """What the prediction log keeps of each item instead of the item as sent (its drift
        signals, a hash of a large input); None keeps the items as sent."""
        return None


@dataclass(frozen=True)
class ServedModel:
    """One project's served model: schemas, loader, traffic and optional extras.

    ``home`` is where this value lives (``"<module>:<name>"``): the pyfunc flavor records it with
    every logged model, so ``mlflow.pyfunc.load_model`` finds the project's code again.
    """

    package: str  # the project's import name (its code ships with the model)
    home: str  # e.g. "spam_classifier.predictor:SERVED"
    item: type[BaseModel]  # one request item
    answer: type[BaseModel]  # one answer (documents /predict's response)
    load: Callable[[Path], ServedPredictor]  # a model folder (registry download or local export)
    request_items: Callable[[pd.DataFrame], list[dict[str, Any]]]  # canonical rows as request items
    endpoints: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)  # GET path -> f(predictor)
    upload_field: str | None = None  # multipart uploads to /predict become items with this field
    page: Callable[[], str] | None = None  # HTML served at GET /

    @property
    def explains(self) -> bool:
        """Whether the predictor ``load`` returns overrides ``explain`` (read from ``load``'s return
        annotation): the API then serves ``POST /explain``; otherwise the route is left out."""
        import typing

        try:
            returned = typing.get_type_hints(self.load).get("return")
        except Exception:  # noqa: BLE001 - an annotation that does not resolve names no class
            return False
        return (
            isinstance(returned, type)
            and issubclass(returned, ServedPredictor)
            and returned.explain is not ServedPredictor.explain
        )

    def __post_init__(self) -> None:
        module, _, name = self.home.partition(":")
        if not (module.startswith(f"{self.package}.") and name.isidentifier()):
            raise ValueError(f"ServedModel.home={self.home!r} must be '{self.package}.<module>:<name>'")


def served_at(home: str) -> ServedModel:
    """The ``ServedModel`` a project names as ``module:NAME`` (e.g. ``spam_classifier.predictor:SERVED``)."""
    import importlib

    module, _, name = home.partition(":")
    return getattr(importlib.import_module(module), name)
