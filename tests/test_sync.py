"""Sync check: every project is what the template bakes from its recorded answers.

Template-owned files must match byte for byte; project-owned files (the ``skip`` list in the
project's ``.cruft.json``) may differ; in README.md only the ``project-owned`` blocks may.
"""

from __future__ import annotations

import pytest
from suite import drift_from_template, mask_project_blocks, projects

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
