"""The one contract between the suite's generic stages and a project: ``Task``.

A project implements it once, in its project-owned ``src/<package>/task.py``; the stages in
``mlcore.tasks.stages`` (train, evaluate, the sweep trial, promotion's re-scoring) call nothing
else of the project but the ``ServedModel`` the task names (``predictor.py``: what is served, and
how a model folder loads). Frames in, results out: a task reads no files and logs nothing, so each
method can be tested on a hand-made frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd
from omegaconf import DictConfig

from mlcore.foundation.served import ServedModel, ServedPredictor


@dataclass
class Fitted:
    """A trained model as the train stage needs it."""

    predictor: ServedPredictor  # what serving runs: predict(items), drift_frame(inputs, outputs)
    model: Any  # the native model the flavor saves (e.g. a fitted scikit-learn pipeline)
    metrics: dict[str, float]  # validation metrics; the sweep optimises one of them
    summary: str = ""  # one line for the stage log, e.g. "val_f1=0.9512 threshold=0.340"
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # plot tables (reports/plots/<name>.csv)
    child_runs: list[dict[str, Any]] = field(default_factory=list)  # {"run_name", "params", "metrics"}
    history: list[dict[str, float]] = field(default_factory=list)  # per-epoch metrics (networks), "epoch" = step


@dataclass
class Reference:
    """What the model is compared with in production, and what ships with it."""

    frame: pd.DataFrame  # drift signals of the reference rows (predictor.drift_frame)
    categorical: list[str] = field(default_factory=list)  # columns compared as categories
    extras: dict[str, Any] = field(default_factory=dict)  # JSON files shipped with the model
    seed: int = 0  # sampling seed of the profile


@dataclass
class Scored:
    """Metrics and plot tables of one assessment (test scores, cross-validation, stability...)."""

    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __or__(self, other: Scored) -> Scored:
        return Scored({**self.metrics, **other.metrics}, {**self.tables, **other.tables})


@runtime_checkable
class Task(Protocol):
    """What a task type does. ``cfg`` is the composed config (params.yaml)."""

    served: ServedModel  # what the project serves (``<package>.predictor.SERVED``): schemas, loader
    headline: Sequence[str]  # evaluation metrics printed by the evaluate stage

    def fit(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Fitted:
        """Train on ``train``; tune and score on ``val`` (metrics ``val_*``)."""
        ...

    def reference(self, fitted: Fitted, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Reference:
        """The drift reference (and any extras) of a fitted model."""
        ...

    def metadata(self, fitted: Fitted, cfg: DictConfig) -> dict[str, Any]:
        """JSON facts logged with the model that ``served.load`` needs back (threshold, labels, ...)."""
        ...

    def input_example(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> pd.DataFrame:
        """A few rows as the API takes them (request fields as columns)."""
        ...

    def score(self, predictor: Any, test: pd.DataFrame, cfg: DictConfig) -> Scored:
        """Test metrics (``test_*``) and plot tables: what promotion compares champions on."""
        ...

    def assess(self, predictor: Any, cfg: DictConfig, splits: Mapping[str, pd.DataFrame]) -> Scored:
        """Further evaluation beyond the test scores (cross-validation, importance, stability);
        ``Scored()`` when there is none."""
        ...
