"""What the served traffic looks like, as Prometheus metrics: the answers per model version and
summaries of the inputs the drift check compares, so a dashboard and an alert see a shift
between two monitor runs.

- ``predictions_total{version, label}``: answers by predicted label (classifiers: ``label``;
  segmentation: the segment id), for the answer-distribution panels;
- ``prediction_value{version}`` (``_sum``, ``_count``): predicted values (regression), whose
  mean ``rate(_sum) / rate(_count)`` moves when the predictions do;
- ``input_feature{feature}`` (``_sum``, ``_count``): each numeric input field or drift signal the
  prediction log keeps (a text's length and out-of-vocabulary share, an image's brightness, a
  house's area), so its mean is one PromQL division away;
- ``input_missing_total{feature}``: inputs without a value (null, NaN, empty text).

Cardinality stays bounded: labels come from the predictor's own label list (anything else is
``other``), and at most ``MAX_FEATURES`` input fields are followed (the first seen); raw values
and request ids never become labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Summary

MAX_FEATURES = 64
MAX_LABELS = 64


class TrafficMetrics:
    """Counts answers and summarises inputs; ``observe`` runs once per answered request."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.predictions = Counter(
            "predictions", "Answers per model version and predicted label", ["version", "label"], registry=registry
        )
        self.values = Summary("prediction_value", "Predicted values (regression)", ["version"], registry=registry)
        self.inputs = Summary("input_feature", "Numeric inputs and drift signals", ["feature"], registry=registry)
        self.missing = Counter("input_missing", "Inputs without a value", ["feature"], registry=registry)
        self._features: set[str] = set()
        self._labels: set[str] = set()  # seen, for predictors without a label list

    def observe(
        self,
        version: str,
        inputs: Sequence[dict[str, Any]],
        outputs: Sequence[dict[str, Any]],
        allowed: Sequence[str] | None = None,
    ) -> None:
        """One request: its answers (``allowed``: the predictor's labels) and its logged inputs."""
        for answer in outputs:
            self._answer(version, answer, allowed)
        for row in inputs:
            for feature, value in row.items():
                if feature not in self._features:
                    if len(self._features) >= MAX_FEATURES:
                        continue
                    self._features.add(feature)
                if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
                    self.missing.labels(feature).inc()
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    self.inputs.labels(feature).observe(float(value))

    def _answer(self, version: str, answer: dict[str, Any], allowed: Sequence[str] | None) -> None:
        if "label" in answer:
            label = str(answer["label"])
            if allowed is not None:
                label = label if label in allowed else "other"
            elif label not in self._labels:
                if len(self._labels) >= MAX_LABELS:
                    label = "other"
                else:
                    self._labels.add(label)
            self.predictions.labels(version, label).inc()
        elif "segment" in answer:
            self.predictions.labels(version, str(int(answer["segment"]))).inc()
        elif isinstance(answer.get("prediction"), int | float):
            self.values.labels(version).observe(float(answer["prediction"]))
