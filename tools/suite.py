"""Suite helpers: list the projects, bake from the template, check projects against it."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "ml-project"
PROJECT_BLOCK = re.compile(r"<!-- project-owned:start (\w+) -->.*?<!-- project-owned:end \1 -->", re.S)
IGNORED_PARTS = {".git", "__pycache__"}

# Reference projects whose project-owned files are still their variant's own, word for word: the
# suite checks and syncs those files too, so the copies cannot drift apart unseen. Each project
# keeps only the files named here (its README's blocks and its composed params.yaml); when one of
# its other files really diverges, name it here and the project owns it again.
MIRRORS_VARIANT: dict[str, tuple[str, ...]] = {
    "image-classifier": ("README.md", "params.yaml"),
    "sentiment-analyzer": ("README.md", "params.yaml"),
}


def projects() -> list[Path]:
    """Every project folder of the suite (it records template answers in .cruft.json)."""
    return sorted(p.parent for p in ROOT.glob("*/.cruft.json"))


def answers(project: Path) -> dict[str, Any]:
    return json.loads((project / ".cruft.json").read_text(encoding="utf-8"))


def bake(context: dict[str, str], output_dir: Path) -> Path:
    import os

    from cookiecutter.main import cookiecutter

    os.environ["ML_TEMPLATE_QUIET"] = "1"  # no "next steps" from the post-generation hook
    os.environ["ML_TEMPLATE_NO_VENDOR"] = "1"  # the suite's own bakes use the suite's pins and mlcore
    return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=context, output_dir=str(output_dir)))


@contextmanager
def rebaked(project: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield bake(answers(project)["context"]["cookiecutter"], Path(tmp))


def files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not IGNORED_PARTS & set(p.relative_to(root).parts)
    }


def owned(project: Path) -> list[str]:
    """The files the suite leaves to ``project``: its ``.cruft.json`` skip list, or the short list
    of a project that mirrors its variant (``MIRRORS_VARIANT``)."""
    if project.name in MIRRORS_VARIANT:
        return list(MIRRORS_VARIANT[project.name])
    return list(answers(project).get("skip", []))


def is_project_owned(rel: str, skip: list[str]) -> bool:
    """Whether ``rel`` is one of the project's own files (its ``skip`` list): the rule
    ``make template-update`` follows too (``mlcore.template.owned_by_project``)."""
    from mlcore.template import owned_by_project

    return owned_by_project(rel, skip)


def mask_project_blocks(text: str) -> str:
    return PROJECT_BLOCK.sub(lambda m: f"<!-- project-owned:{m.group(1)} -->", text)


def drift_from_template(project: Path) -> list[str]:
    """Template-owned files of ``project`` (and a mirroring project's own) that differ from a fresh
    bake with its answers."""
    skip = owned(project)
    problems: list[str] = []
    with rebaked(project) as fresh:
        for rel in sorted(files(fresh)):
            ours = project / rel
            if rel == "README.md":
                if not ours.exists() or mask_project_blocks(ours.read_text()) != mask_project_blocks(
                    (fresh / rel).read_text()
                ):
                    problems.append(f"{rel} (outside the project-owned blocks)")
                continue
            if rel == ".cruft.json":
                if not ours.exists() or not same_but_origin(ours.read_text(), (fresh / rel).read_text()):
                    problems.append(f"{rel} (differs beyond the template version it names)")
                elif not json.loads(ours.read_text()).get("commit"):
                    problems.append(f"{rel} (names no template commit)")
                continue
            if is_project_owned(rel, skip):
                continue
            if not ours.exists():
                problems.append(f"{rel} (missing)")
            elif ours.read_bytes() != (fresh / rel).read_bytes():
                problems.append(f"{rel} (differs)")
    return problems


ORIGIN_KEYS = ("template", "directory", "commit", "checkout")  # .cruft.json: where and when from


def record_for(project: Path, fresh: str) -> str:
    """A fresh bake's ``.cruft.json`` as ``project`` keeps it: the template's repository is the
    suite itself (``..``), the version the commit the bake came from."""
    record = json.loads(fresh)
    record["template"] = "/".join([".."] * len(project.resolve().relative_to(ROOT).parts))
    return json.dumps(record, indent=2) + "\n"


def same_but_origin(ours: str, fresh: str) -> bool:
    """Two records equal but for the version they name (every commit moves it)."""
    a, b = json.loads(ours), json.loads(fresh)
    return {k: v for k, v in a.items() if k not in ORIGIN_KEYS} == {k: v for k, v in b.items() if k not in ORIGIN_KEYS}


def merge_readme(fresh: str, ours: str) -> str:
    """The template's README with the project-owned blocks of ``ours`` put back in."""
    blocks = {m.group(1): m.group(0) for m in PROJECT_BLOCK.finditer(ours)}
    return PROJECT_BLOCK.sub(lambda m: blocks.get(m.group(1), m.group(0)), fresh)


def sync(project: Path) -> list[str]:
    """Copy every template-owned file of a fresh bake (and a mirroring project's own) over
    ``project``; return what changed."""
    import shutil

    skip = owned(project)
    changed = []
    with rebaked(project) as fresh:
        for rel in sorted(files(fresh)):
            ours = project / rel
            if rel == "README.md" and ours.exists():
                merged = merge_readme((fresh / rel).read_text(encoding="utf-8"), ours.read_text(encoding="utf-8"))
                if merged != ours.read_text(encoding="utf-8"):
                    ours.write_text(merged, encoding="utf-8")
                    changed.append(rel)
                continue
            if rel == ".cruft.json":
                record = record_for(project, (fresh / rel).read_text(encoding="utf-8"))
                if (
                    not ours.exists()
                    or not same_but_origin(ours.read_text(encoding="utf-8"), record)
                    or not json.loads(ours.read_text(encoding="utf-8")).get("commit")
                ):
                    ours.write_text(record, encoding="utf-8")
                    changed.append(rel)
                continue
            if is_project_owned(rel, skip):
                continue
            if not ours.exists() or ours.read_bytes() != (fresh / rel).read_bytes():
                ours.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(fresh / rel, ours)
                changed.append(rel)
    return changed


def main() -> int:
    """``python tools/suite.py [check|sync]``: list (or repair) template-owned files that drifted."""
    import sys

    if sys.argv[1:2] == ["sync"]:
        for project in projects():
            for rel in sync(project):
                print(f"{project.name}: updated {rel}")
    bad = 0
    for project in projects():
        problems = drift_from_template(project)
        status = "in sync" if not problems else f"{len(problems)} file(s) drifted"
        print(f"{project.name}: {status}")
        for problem in problems:
            print(f"  {problem}")
        bad += len(problems)
    if bad:
        print("run `make sync` to re-apply the template, or move the change into templates/ml-project", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
