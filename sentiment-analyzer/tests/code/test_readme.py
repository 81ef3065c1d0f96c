"""The README's commands work for this project: its example request and the model it names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sentiment_analyzer.schemas import Item

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_example_request_is_valid_for_the_request_schema() -> None:
    bodies = re.findall(r"curl [^\n]*/predict[^\n]* -d '([^']+)'", README)
    assert bodies, "the README has no example `curl ... /predict -d '...'` request"
    for body in bodies:
        Item.model_validate(json.loads(body))


def test_models_named_in_the_readme_exist() -> None:
    named = set(re.findall(r"model=(\w+)", README))
    assert named, "the README names no model config"
    missing = {name for name in named if not (ROOT / "configs" / "model" / f"{name}.yaml").exists()}
    assert not missing, f"README names model config(s) that do not exist: {sorted(missing)}"
