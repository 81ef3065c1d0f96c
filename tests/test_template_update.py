"""`make template-update` (``mlcore.template``): a project baked at one template version takes the
next, keeping its own changes. Each scenario bakes a learner's project outside the suite from a
throw-away git repository holding this template in a subfolder (``templates/ml-project``, as in
the suite), at release ``v1``; the learner commits and edits; the template moves to ``v2``; the
update merges it in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mlcore.template import main as template_main
from mlcore.template import owned_by_project, update

SUITE = Path(__file__).resolve().parents[1]
ANSWERS = {"project_name": "Learner Project", "task_type": "text_classification", "description": "Mine."}
GIT = ["-c", "user.name=Template Author", "-c", "user.email=author@example.org"]


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {args}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def quiet_bakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ML_TEMPLATE_QUIET", "1")
    monkeypatch.setenv("ML_TEMPLATE_NO_VENDOR", "1")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A template repository: the suite's template in ``templates/ml-project``, committed as v1."""
    root = tmp_path / "suite"
    shutil.copytree(SUITE / "templates" / "ml-project", root / "templates" / "ml-project")
    (root / "README.md").write_text("a suite\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "template v1")
    git(root, "tag", "v1")
    return root


def project_dir(repo: Path) -> Path:
    return repo / "templates" / "ml-project" / "{{cookiecutter.project_slug}}"


def release(repo: Path, change: Callable[[Path], None], tag: str = "v2") -> str:
    """Change the template (``change`` gets its project folder), commit and tag it."""
    change(project_dir(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"template {tag}")
    git(repo, "tag", tag)
    return git(repo, "rev-parse", "HEAD")


def bake(repo: Path, rev: str, out: Path, **answers: str) -> Path:
    """What a learner does: check the template out at ``rev`` and run cookiecutter on its folder."""
    from cookiecutter.main import cookiecutter

    git(repo, "checkout", "-q", rev)
    try:
        baked = Path(
            cookiecutter(
                str(repo / "templates" / "ml-project"),
                no_input=True,
                extra_context={**ANSWERS, **answers},
                output_dir=str(out),
            )
        )
    finally:
        git(repo, "checkout", "-q", "main")
    return baked


@pytest.fixture
def learner(repo: Path, tmp_path: Path) -> Iterator[Path]:
    """A project baked at v1 outside the suite, committed in its own repository."""
    project = bake(repo, "v1", tmp_path / "learner")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "baked")
    yield project


def commit(project: Path, message: str = "my changes") -> None:
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} lacks {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def makefile_help(folder: Path) -> None:
    edit(folder / "Makefile", "## Code, data and model tests", "## Code, data and model tests (all three tiers)")


def test_the_bake_records_a_real_version_and_check_sees_the_next_release(
    repo: Path, learner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = json.loads((learner / ".cruft.json").read_text(encoding="utf-8"))
    assert record["commit"] == git(repo, "rev-parse", "v1") and record["checkout"] == "v1"
    assert record["template"] == str(repo) and record["directory"] == "templates/ml-project"
    assert template_main(["check", "--project", str(learner), "--exit-code"]) == 0
    release(repo, makefile_help)
    assert template_main(["check", "--project", str(learner), "--exit-code"]) == 1
    said = capsys.readouterr().out
    assert "behind the template by 1 commit" in said and "template v2" in said and "v2" in said.split("releases:")[1]


def test_1_no_local_edits_gives_a_fresh_bake_of_the_new_version_byte_for_byte(
    repo: Path, learner: Path, tmp_path: Path
) -> None:
    def change(folder: Path) -> None:
        makefile_help(folder)
        (folder / "deploy" / "notes.md").write_text("Deployment notes.\n", encoding="utf-8")

    v2 = release(repo, change)
    outcome, record = update(learner)
    assert record["commit"] == v2 and record["checkout"] == "v2"
    assert outcome.updated == ["Makefile"] and outcome.added == ["deploy/notes.md"] and not outcome.conflicts
    assert tree(learner) == tree(bake(repo, "v2", tmp_path / "fresh"))


def test_2_a_local_edit_where_the_template_did_not_change_is_kept(repo: Path, learner: Path) -> None:
    edit(learner / "Makefile", "PORT ?= 8000", "PORT ?= 8080")
    commit(learner)
    release(repo, makefile_help)
    outcome, _ = update(learner)
    text = (learner / "Makefile").read_text(encoding="utf-8")
    assert "PORT ?= 8080" in text and "(all three tiers)" in text and not outcome.conflicts


def test_3_both_changing_the_same_lines_leaves_conflict_markers_and_exits_1(
    repo: Path, learner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(learner / "Makefile", "## Code, data and model tests", "## Every test I wrote")
    commit(learner)
    before = tree(learner)
    release(repo, makefile_help)
    assert template_main(["update", "--project", str(learner)]) == 1
    assert "CONFLICT Makefile" in capsys.readouterr().err
    text = (learner / "Makefile").read_text(encoding="utf-8")
    assert (
        "<<<<<<< yours" in text
        and "## Every test I wrote" in text
        and "(all three tiers)" in text
        and ">>>>>>> template" in text
    )
    after = tree(learner)
    assert {k for k in after if after[k] != before.get(k)} == {"Makefile", ".cruft.json"}, "nothing else changed"


def test_4_added_renamed_and_deleted_files_with_the_learners_edit_following_the_rename(
    repo: Path, learner: Path
) -> None:
    edit(learner / "deploy" / "alerts.yaml", "for: 2m", "for: 3m")
    commit(learner)

    def change(folder: Path) -> None:
        (folder / "deploy" / "prometheus").mkdir()
        (folder / "deploy" / "alerts.yaml").rename(folder / "deploy" / "prometheus" / "alerts.yaml")
        edit(
            folder / "deploy" / "prometheus" / "alerts.yaml", "Each alert has a severity", "Every alert has a severity"
        )
        (folder / "deploy" / "inferenceservice.yaml").unlink()
        (folder / "CHANGES.md").write_text("What changed.\n", encoding="utf-8")

    release(repo, change)
    outcome, _ = update(learner)
    assert not outcome.conflicts, outcome.conflicts
    moved = (learner / "deploy" / "prometheus" / "alerts.yaml").read_text(encoding="utf-8")
    assert "for: 3m" in moved and "Every alert has a severity" in moved
    assert (
        not (learner / "deploy" / "alerts.yaml").exists()
        and not (learner / "deploy" / "inferenceservice.yaml").exists()
    )
    assert (learner / "CHANGES.md").read_text(encoding="utf-8") == "What changed.\n"
    assert outcome.renamed == ["deploy/alerts.yaml -> deploy/prometheus/alerts.yaml"]
    assert outcome.removed == ["deploy/inferenceservice.yaml"] and outcome.added == ["CHANGES.md"]


def test_a_removed_file_the_learner_changed_is_a_conflict_not_a_loss(repo: Path, learner: Path) -> None:
    edit(learner / "deploy" / "inferenceservice.yaml", "apiVersion", "# mine\napiVersion")
    commit(learner)
    release(repo, lambda folder: (folder / "deploy" / "inferenceservice.yaml").unlink())
    outcome, _ = update(learner)
    assert "# mine" in (learner / "deploy" / "inferenceservice.yaml").read_text(encoding="utf-8")
    assert outcome.conflicts == ["deploy/inferenceservice.yaml: removed by the template, changed by you (yours kept)"]


def test_5_a_moved_pin_and_the_learners_own_dependency_both_end_in_the_file(repo: Path, learner: Path) -> None:
    edit(
        learner / "pyproject.toml",
        "(make template-update keeps them when the pin above moves)\n",
        '(make template-update keeps them when the pin above moves)\n  "rich>=13",\n',
    )
    commit(learner)
    release(
        repo, lambda folder: edit(folder / "pyproject.toml", '"mlsuite-core>=0.2,<0.3"', '"mlsuite-core>=0.3,<0.4"')
    )
    outcome, _ = update(learner)
    text = (learner / "pyproject.toml").read_text(encoding="utf-8")
    assert '"mlsuite-core>=0.3,<0.4"' in text and '"rich>=13",' in text and not outcome.conflicts


def test_6_a_changed_answer_changes_only_the_files_that_use_it(repo: Path, learner: Path, tmp_path: Path) -> None:
    before = tree(learner)
    outcome, record = update(learner, sets={"description": "A sharper description."})
    assert record["context"]["cookiecutter"]["description"] == "A sharper description."
    after = tree(learner)
    changed = {k for k in after if after[k] != before.get(k)}
    fresh_old, fresh_new = (
        tree(bake(repo, "v1", tmp_path / "a")),
        tree(bake(repo, "v1", tmp_path / "b", description="A sharper description.")),
    )
    skip = record["skip"]
    using = {k for k in fresh_new if fresh_new[k] != fresh_old.get(k) and not owned_by_project(k, skip)}
    assert changed == using and "pyproject.toml" in changed, (changed, using)
    assert "README.md" in skip and b"A sharper description." not in after["README.md"], "the learner's README is theirs"
    assert not outcome.conflicts


def test_7_uncommitted_changes_are_refused_and_left_alone(
    repo: Path, learner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(learner / "Makefile", "PORT ?= 8000", "PORT ?= 9000")
    before = tree(learner)
    release(repo, makefile_help)
    assert template_main(["update", "--project", str(learner)]) == 2
    said = capsys.readouterr().err
    assert "uncommitted change" in said and "Makefile" in said and "commit or stash" in said
    assert tree(learner) == before


def test_project_owned_files_are_never_touched(repo: Path, learner: Path) -> None:
    readme = learner / "src" / "learner_project" / "model.py"
    skip = json.loads((learner / ".cruft.json").read_text(encoding="utf-8"))["skip"]
    assert "src/learner_project/model.py" in skip
    release(
        repo,
        lambda folder: (
            folder / "_variants" / "text_classification" / "src" / "{{cookiecutter.package_name}}" / "model.py"
        ).write_text("# replaced\n", encoding="utf-8"),
    )
    before = readme.read_bytes()
    outcome, _ = update(learner)
    assert readme.read_bytes() == before and "src/learner_project/model.py" not in outcome.updated


def test_offline_from_a_local_clone_named_on_the_command_line(repo: Path, learner: Path, tmp_path: Path) -> None:
    release(repo, makefile_help)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    shutil.rmtree(repo)  # the recorded source is gone
    assert template_main(["update", "--project", str(learner)]) == 2
    assert template_main(["update", "--project", str(learner), "--template", str(clone), "--to", "v2"]) == 0
    assert "(all three tiers)" in (learner / "Makefile").read_text(encoding="utf-8")


def test_the_suites_own_projects_record_a_real_version() -> None:
    for record_path in sorted(SUITE.glob("*/.cruft.json")):
        record = json.loads(record_path.read_text(encoding="utf-8"))
        assert record["template"] == ".." and record["directory"] == "templates/ml-project", record_path
        assert record["commit"] and len(record["commit"]) == 40, f"{record_path}: no template commit"
    assert os.environ.get("ML_TEMPLATE_QUIET") == "1"  # the fixture's bakes stay quiet
