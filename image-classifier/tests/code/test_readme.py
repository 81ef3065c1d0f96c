"""The README holds for this project: its example request, the models it names, and its map of
the files (every module named, with its true owner)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from image_classifier.schemas import Item

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SOURCE = ROOT / "src" / "image_classifier"


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


def where_things_are() -> dict[str, str]:
    """The README's "Where things are" tree: source file (relative to the project) -> owner (P/T/M)."""
    section = README.split("## Where things are", 1)[1].split("```", 2)[1]
    rows = re.finditer(r"^  (\S+\.py) +([PTM])  ", section, flags=re.M)
    return {f"{SOURCE.relative_to(ROOT).as_posix()}/{row.group(1)}": row.group(2) for row in rows}


def test_where_things_are_names_every_module_and_its_true_owner() -> None:
    listed = where_things_are()
    modules = {p.relative_to(ROOT).as_posix() for p in SOURCE.rglob("*.py") if p.name != "__init__.py"}
    assert modules - set(listed) == set(), "modules the README's tree does not name"
    assert set(listed) - modules == set(), "the README's tree names modules that do not exist"
    skip = set(json.loads((ROOT / ".cruft.json").read_text(encoding="utf-8"))["skip"])
    wrong = {path: owner for path, owner in listed.items() if (owner == "P") != (path in skip)}
    assert not wrong, f"owners in the README's tree that .cruft.json's skip list contradicts: {wrong}"
