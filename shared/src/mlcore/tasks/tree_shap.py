"""SHAP values of a fitted tabular pipeline whose model is a tree ensemble, per input field.

``TreeShap.of(pipeline)`` takes ``Pipeline([..., preprocessing (a ColumnTransformer), model])``
where the model is a tree ensemble the ``shap`` package's ``TreeExplainer`` reads (scikit-learn's
gradient boosting and forests among them), possibly inside a ``TransformedTargetRegressor``. The
values are the exact path-dependent TreeSHAP of the model's raw output (for a target fitted on
``log``, log price): base value + the values = the model's output to float precision. Columns the
preprocessing makes from one input field (a one-hot encoding) are summed back into that field,
which keeps the sum exact, so a reader sees ``Neighborhood`` rather than 28 indicator columns.

Why the ``shap`` package rather than the booster's own contributions: scikit-learn's histogram
gradient boosting has none (``pred_contrib`` is LightGBM's and XGBoost's), and TreeSHAP's
polynomial algorithm is what ``shap`` ships compiled (about 1 ms a house for 600 trees here).
Imports of scikit-learn and ``shap`` stay inside functions: a worker loads them on the first
``/explain``, never to predict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Attribution:
    """One row's explanation: the raw output's base value, each input field's value and the output."""

    base_value: float
    fields: dict[str, float]  # input field -> its SHAP value (its columns summed)
    value: float  # the model's raw output (base + values, to float precision)


@dataclass
class TreeShap:
    """The fitted preprocessing, the tree explainer of the model and each input field's columns."""

    preprocess: Any  # fitted steps before the model (their .transform gives the model's columns)
    explainer: Any  # shap.TreeExplainer
    groups: dict[str, list[int]]  # input field -> positions of its columns in the model's input
    inverse: str | None  # "exp" where the raw output is the log of the answer, else None

    @classmethod
    def of(cls, pipeline: Any) -> TreeShap:
        """The explainer of ``pipeline``; ``NotImplementedError`` when its model is not a tree
        ensemble ``shap`` reads exactly (the API then answers 501 naming the reason)."""
        import shap
        from sklearn.compose import TransformedTargetRegressor

        model = pipeline.steps[-1][1]
        inverse = None
        if isinstance(model, TransformedTargetRegressor):
            inverse = _inverse_name(model)
            model = model.regressor_
        try:
            explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
        except Exception as exc:  # shap raises a bare Exception for models it does not read
            raise NotImplementedError(f"{type(model).__name__} has no exact tree explanation: {exc}") from None
        preprocess = pipeline[:-1]
        return cls(preprocess, explainer, field_groups(preprocess), inverse)

    def inputs(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The model's input for ``frame`` (the request's fields) through the fitted preprocessing,
        and each row's input fields after the steps before the ``ColumnTransformer`` (engineered
        features added): a compiled preprocessing gives the same matrix faster."""
        fields = frame
        for _, step in self.preprocess.steps:
            if type(step).__name__ == "ColumnTransformer":
                break
            fields = step.transform(fields)
        matrix = np.asarray(self.preprocess.transform(frame), dtype=float)
        return matrix, pd.DataFrame(fields).to_dict(orient="records")

    def explain(self, matrix: np.ndarray) -> list[Attribution]:
        """Each row's base value, per-field SHAP values and raw output (rows of the model's input)."""
        values = np.asarray(self.explainer.shap_values(np.asarray(matrix, dtype=float)), dtype=float)
        base = float(np.ravel(self.explainer.expected_value)[0])
        out = []
        for row in values:
            fields = {name: math.fsum(row[columns]) for name, columns in self.groups.items()}
            out.append(Attribution(base, fields, base + math.fsum(row)))
        return out

    def answer(self, value: float) -> float:
        """The answer the raw output stands for (the inverse of the target's transform)."""
        return float(INVERSES[self.inverse](value)) if self.inverse else value


INVERSES = {"exp": math.exp, "expm1": math.expm1}
OUTPUTS = {
    "exp": "log of the {unit} (the answer is exp of it)",
    "expm1": "log of 1 + the {unit} (the answer is expm1 of it)",
}


def _inverse_name(model: Any) -> str:
    inverse = getattr(model, "inverse_func", None)
    for name in INVERSES:
        if inverse is getattr(np, name):
            return name
    raise NotImplementedError(f"a target transformed by {inverse!r} has no exact explanation in the answer's units")


def field_groups(preprocess: Any) -> dict[str, list[int]]:
    """Input field -> positions of the columns made from it, read from the pipeline's
    ``ColumnTransformer`` (the step that names its output): a transformer that keeps one column per
    input maps them one to one; a one-hot encoder maps each category's column to its field; any
    other transformer's columns go to its own name."""
    from sklearn.compose import ColumnTransformer

    transformers = [step for _, step in preprocess.steps if isinstance(step, ColumnTransformer)]
    if len(transformers) != 1:
        raise NotImplementedError("explanations by input field need exactly one ColumnTransformer step")
    ct = transformers[0]
    groups: dict[str, list[int]] = {}
    for name, transformer, columns in ct.transformers_:
        where = ct.output_indices_[name]
        positions = list(range(where.start, where.stop))
        if not positions:
            continue
        inputs = [str(column) for column in np.atleast_1d(columns)]
        encoder = _last_step(transformer)
        if type(encoder).__name__ == "OneHotEncoder":
            for field, count in zip(inputs, _onehot_widths(encoder), strict=True):
                groups.setdefault(field, []).extend(positions[:count])
                positions = positions[count:]
        elif len(inputs) == len(positions):
            for field, position in zip(inputs, positions, strict=True):
                groups.setdefault(field, []).append(position)
        else:
            groups.setdefault(str(name), []).extend(positions)
    return groups


def _last_step(transformer: Any) -> Any:
    steps = getattr(transformer, "steps", None)
    return steps[-1][1] if steps else transformer


def _onehot_widths(encoder: Any) -> list[int]:
    """How many columns a fitted one-hot encoder makes from each input, from its output names
    (``<input>_<category>`` for kept categories, ``<input>_infrequent_sklearn`` for the rest)."""
    names = list(encoder.get_feature_names_out())
    widths = []
    start = 0
    for field, categories in zip(encoder.feature_names_in_, encoder.categories_, strict=True):
        expected = {f"{field}_{category}" for category in categories} | {f"{field}_infrequent_sklearn"}
        end = start
        while end < len(names) and names[end] in expected:
            end += 1
        widths.append(end - start)
        start = end
    if start != len(names):
        raise NotImplementedError("the one-hot encoder's columns could not be matched to its inputs")
    return widths


def explained(
    explainer: TreeShap,
    matrix: np.ndarray,
    fields: Sequence[dict[str, Any]],
    answers: Sequence[dict[str, Any]],
    unit: str,
    top: int = 10,
) -> list[dict[str, Any]]:
    """``/explain``'s answers for rows of the model's input (``matrix``) and their input ``fields``:
    each answer with the ``top`` fields by the size of their SHAP value and the item's value of
    each, the rest summed, and the answer the explained output stands for (``answer``, unrounded).
    On a log output each field's ``factor`` is what it multiplies the answer by."""
    logged = explainer.inverse == "exp"
    out = []
    for attribution, answer, row in zip(explainer.explain(matrix), answers, fields, strict=True):
        order = sorted(attribution.fields, key=lambda name: -abs(attribution.fields[name]))
        terms = []
        for name in order[:top]:
            term = {"name": name, "value": _plain(row.get(name)), "contribution": attribution.fields[name]}
            if logged:
                term["factor"] = math.exp(attribution.fields[name])
            terms.append(term)
        out.append(
            {
                **answer,
                "explanation": {
                    "method": "TreeSHAP (shap.TreeExplainer, path-dependent, exact); one-hot columns summed by field",
                    "output": OUTPUTS[explainer.inverse].format(unit=unit) if explainer.inverse else f"the {unit}",
                    "base_value": attribution.base_value,
                    "value": attribution.value,
                    "answer": explainer.answer(attribution.value),
                    "terms": terms,
                    "rest": math.fsum(attribution.fields[name] for name in order[top:]),
                    "exact": True,
                },
            }
        )
    return out


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value
