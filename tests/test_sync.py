"""Sync check: every project is what the template bakes from its recorded answers.

Template-owned files must match byte for byte; project-owned files (the ``skip`` list in the
project's ``.cruft.json``) may differ; in README.md only the ``project-owned`` blocks may. A
project that mirrors its variant (``MIRRORS_VARIANT``) has its project-owned files checked too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from suite import MIRRORS_VARIANT, answers, drift_from_template, is_project_owned, mask_project_blocks, projects

PROJECTS = projects()


def test_there_are_projects() -> None:
    assert PROJECTS, "no project with a .cruft.json found"


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_project_matches_template(project) -> None:
    problems = drift_from_template(project)
    assert not problems, f"{project.name}: template-owned files differ: {problems}. Run `make sync`."


def test_readme_masking_only_hides_project_blocks() -> None:
    text = "a\n<!-- project-owned:start x -->\nmine\n<!-- project-owned:end x -->\nb\n"
    assert mask_project_blocks(text) == "a\n<!-- project-owned:x -->\nb\n"
    assert mask_project_blocks(text.replace("b\n", "c\n")) != mask_project_blocks(text)


@pytest.mark.parametrize("name", sorted(MIRRORS_VARIANT))
def test_a_mirroring_projects_own_files_are_checked_too(name: str, tmp_path: Path) -> None:
    """Edit a file the project's skip list calls its own: the check of a mirroring project names it."""
    source = next(p for p in PROJECTS if p.name == name)
    package = answers(source)["context"]["cookiecutter"]["package_name"]
    rel = f"src/{package}/predictor.py"
    assert is_project_owned(rel, answers(source)["skip"]), "the edited file must be one a learner owns"
    copy = tmp_path / name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("data", "models", "mlruns", "*.db", "logs", ".dvc"))
    (copy / rel).write_text((copy / rel).read_text() + "\n# a local change\n")
    assert f"{rel} (differs)" in drift_from_template(copy)
