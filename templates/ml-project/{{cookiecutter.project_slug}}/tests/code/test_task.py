"""The project's task honours the contract the suite's generic stages rely on (``mlcore.tasks.Task``).

Template-owned: one conformance test for every project, whatever its task type.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from mlcore.tasks import Fitted, Reference, Scored, Task
from mlcore.tasks.stages import read_splits

from {{ cookiecutter.package_name }}.predictor import SERVED
from {{ cookiecutter.package_name }}.schemas import Answer, Item
from {{ cookiecutter.package_name }}.task import TASK

pytestmark = pytest.mark.slow


def test_the_task_implements_the_protocol() -> None:
    assert isinstance(TASK, Task)
    assert TASK.served is SERVED and SERVED.package == "{{ cookiecutter.package_name }}"
    assert TASK.headline, "headline names the evaluation metrics the stage prints"


def test_fit_reference_metadata_and_example(trained: dict[str, Any]) -> None:
    cfg, root = trained["cfg"], trained["root"]
    splits = read_splits(cfg, root, ("train", "val"))
    fitted = TASK.fit(cfg, splits["train"], splits["val"])
    assert isinstance(fitted, Fitted) and fitted.summary
    assert fitted.metrics and all(isinstance(v, int | float) and math.isfinite(v) for v in fitted.metrics.values())
    assert any(name.startswith("val_") for name in fitted.metrics)
    ref = TASK.reference(fitted, cfg, splits["train"], splits["val"])
    assert isinstance(ref, Reference) and len(ref.frame) > 0
    assert set(ref.categorical) <= set(ref.frame.columns)
    json.dumps(ref.extras)
    json.dumps(TASK.metadata(fitted, cfg))  # logged with the model: JSON only
    example = TASK.input_example(cfg, splits["train"], splits["val"])
    assert 0 < len(example) <= 10 and set(example.columns) <= set(Item.model_fields)
    items = [Item.model_validate({k: v for k, v in row.items() if v == v}) for row in example.to_dict("records")]
    answers = fitted.predictor.predict(items)
    assert len(answers) == len(items)
    for answer in answers:
        Answer.model_validate(answer)


def test_load_and_score_reproduce_the_evaluation(trained: dict[str, Any]) -> None:
    cfg, root = trained["cfg"], trained["root"]
    test = read_splits(cfg, root, ("test",))["test"]
    predictor = TASK.served.load(root / cfg.paths.model)
    scored = TASK.score(predictor, test, cfg)
    assert isinstance(scored, Scored) and scored.metrics
    written = json.loads((root / cfg.paths.reports / "metrics.json").read_text())
    for name, value in scored.metrics.items():
        assert written[name] == pytest.approx(value), name
    assert set(TASK.headline) <= set(written)
    assert cfg.train.promotion.primary_metric in written
    answers = predictor.predict([Item.model_validate(row) for row in SERVED.request_items(test.head(5))])
    assert len(answers) == min(5, len(test))
