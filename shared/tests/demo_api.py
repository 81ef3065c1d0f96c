"""A tiny model API for mlcore's tests: ``y = x * factor``, built by mlcore's app factory.

In process: ``make_spec`` (the tests wrap it in a TestClient). As a real server on loopback:
``python demo_api.py <folder> <port> [field=value ...]`` serves ``<folder>/export`` with the
prediction log ``<folder>/log.db``; ``field=value`` sets a ``ServingSpec`` field (JSON values).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from mlcore.foundation.served import ServedPredictor
from mlcore.lifecycle.artifacts import SERVING_METADATA
from mlcore.serving.app import ServingSpec, create_app, run
from mlcore.serving.protocol import ClientLimits
from mlcore.serving.rollout import RolloutSettings
from pydantic import BaseModel, ConfigDict, Field


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: float = Field(ge=0, le=100)


class Answer(BaseModel):
    y: float


class Double(ServedPredictor):
    """A served predictor for tests: drift signals are the logged inputs as they are."""

    def predict(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def drift_frame(
        self, inputs: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]] | None = None
    ) -> pd.DataFrame:
        return pd.DataFrame(list(inputs))


class Scaler(Double):
    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        return [{"y": item.x * self.factor} for item in items]


class Broken(Double):
    """A model that fails on every request (a challenger for the guard-rail tests)."""

    def predict(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        raise RuntimeError("this model is broken")


def load(path: Path) -> Scaler | Broken:
    factor = (path / "factor.txt").read_text()
    return Broken() if factor == "broken" else Scaler(float(factor))


def export(path: Path, version: str, factor: float | str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "factor.txt").write_text(str(factor))
    (path / SERVING_METADATA).write_text(
        json.dumps({"version": version, "run_id": "r" + version, "metrics": {"m": 1.0}})
    )


def make_spec(root: Path, **kw: Any) -> ServingSpec:
    settings: dict[str, Any] = {
        "model_name": "demo",
        "item_schema": Item,
        "answer_schema": Answer,
        "load": load,
        "export_dir": root / "export",
        "cache_dir": root / "cache",
        "prediction_log": root / "log.db",
        "drift_report": root / "drift.json",
        "prefer_registry": False,
        "max_batch": 4,
        "max_body_bytes": 2000,
    }
    return ServingSpec(**(settings | kw))


def main(argv: list[str]) -> None:
    root, port, *fields = argv
    overrides = {key: json.loads(value) for key, value in (field.split("=", 1) for field in fields)}
    if "client_limits" in overrides:
        overrides["client_limits"] = ClientLimits(**overrides["client_limits"])
    if "rollout" in overrides:
        overrides["rollout"] = RolloutSettings.from_config(overrides["rollout"])
    if "admin_token_file" in overrides:
        overrides["admin_token_file"] = Path(overrides["admin_token_file"])
    if "challenger_export" in overrides:
        overrides["challenger_export"] = Path(overrides["challenger_export"])
    run(create_app(make_spec(Path(root), **overrides)), host="127.0.0.1", port=int(port))


if __name__ == "__main__":
    main(sys.argv[1:])
