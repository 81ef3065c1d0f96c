"""``make template-check`` / ``make template-update``: a baked project takes its template's newer
versions, keeping the learner's own changes (``python -m mlcore.template`` or ``ml-template``).

A baked project records its origin in ``.cruft.json`` (the post-generation hook writes it): the
template's git repository (``template``: a URL, an absolute path, or a path relative to the
project), the template's folder inside it (``directory``), the exact version (``commit``, and
``checkout``: a tag naming that commit, when one does), the answers (``context``) and the files
the project owns (``skip``). The format is cruft's, so ``cruft check`` reads it too.

``update`` bakes the template twice with the recorded answers, at the recorded commit (the base)
and at the new one (``--to``, default the template repository's ``HEAD``; ``--set key=value``
changes an answer), and merges the difference into the project file by file with git's own
three-way merge (``git merge-file``):

- a file the learner did not touch becomes the new template's; one the template did not change
  stays the learner's; both changed: merged, and overlapping changes are left between standard
  conflict markers;
- a file the template added is written (a conflict if the learner has another file there); one it
  removed is removed if the learner did not change it, else a conflict (the learner's file stays);
  one it renamed (git's rename detection between the two bakes) moves, with the learner's edits
  merged in;
- files the project owns (``skip``) are never touched; nothing happens while the project has
  uncommitted changes (it says so: commit or stash first, so ``git diff`` shows what the update did).

Then the record names the new version. Exit codes: 0 up to date or updated cleanly, 1 conflicts
(listed; fix them, then commit), 2 refused or an error (the message says what to fix).
``check`` says whether the project is behind and by which commits and tags; with ``--exit-code``
it exits 1 when behind (for CI).
"""

from __future__ import annotations

import argparse
import filecmp
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORD = ".cruft.json"
IGNORED = {".git", "vendor", "__pycache__"}  # never template files: git's own, `make vendor`'s output


class Refused(RuntimeError):
    """The update cannot start; the message says what to fix."""


def git(*args: str, cwd: Path | str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S607
    if check and done.returncode != 0:
        raise Refused(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


# -- the record ---------------------------------------------------------------------------------
def origin(template_dir: Path, project: Path | None = None) -> dict[str, Any]:
    """Where ``template_dir`` comes from: its repository (the ``origin`` remote's URL, else the
    repository's path: relative to ``project`` when the project lies inside that repository), the
    folder inside it, the commit and a tag at that commit. Not a git checkout: all None."""
    template_dir = Path(template_dir).resolve()
    top = git("rev-parse", "--show-toplevel", cwd=template_dir, check=False)
    if not top:
        return {"template": str(template_dir), "directory": None, "commit": None, "checkout": None}
    top_path = Path(top)
    source = git("remote", "get-url", "origin", cwd=top_path, check=False)
    if not source:
        source = str(top_path)
        if project is not None and Path(project).resolve().is_relative_to(top_path):
            source = os.path.relpath(top_path, Path(project).resolve())
    commit = git("rev-parse", "HEAD", cwd=top_path)
    tag = git("describe", "--tags", "--exact-match", commit, cwd=top_path, check=False) or None
    return {
        "template": source,
        "directory": template_dir.relative_to(top_path).as_posix() or None,
        "commit": commit,
        "checkout": tag,
    }


def read_record(project: Path) -> dict[str, Any]:
    path = project / RECORD
    if not path.exists():
        raise Refused(f"{path} is missing: this folder was not baked from the template (or lost its record)")
    record = json.loads(path.read_text(encoding="utf-8"))
    if not record.get("commit"):
        raise Refused(
            f"{path} records no template commit (baked before versions were recorded, or from a folder "
            'that is not a git checkout): set its "template", "directory" and "commit" to the version it was baked from'
        )
    return record


def write_record(project: Path, record: Mapping[str, Any]) -> None:
    (project / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def repository(record: Mapping[str, Any], project: Path, given: str | None = None) -> Path:
    """A local clone of the template's repository: ``given`` (``--template``), or the recorded
    source (a path, relative to the project or absolute; a URL is cloned into a temporary folder
    by ``clone_if_remote``)."""
    source = given or record["template"]
    path = Path(source) if os.path.isabs(source) else (project / source)
    if path.exists():
        return Path(git("rev-parse", "--show-toplevel", cwd=path))
    raise Refused(f"template repository {source!r} not found: pass --template <a local clone>")


@contextmanager
def clone_if_remote(record: Mapping[str, Any], project: Path, given: str | None) -> Iterator[Path]:
    source = given or record["template"]
    if "://" in source or source.startswith("git@"):
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(["git", "clone", "-q", source, tmp], capture_output=True, text=True, check=False)  # noqa: S603,S607
            if done.returncode != 0:
                raise Refused(f"cannot clone {source} ({done.stderr.strip()}): pass --template <a local clone>")
            yield Path(tmp)
    else:
        yield repository(record, project, given)


# -- baking a version -------------------------------------------------------------------------------
def bake_at(repo: Path, commit: str, directory: str | None, answers: Mapping[str, Any], into: Path) -> Path:
    """The template at ``commit`` baked with ``answers`` into ``into``; returns the project folder."""
    from cookiecutter.main import cookiecutter

    source = into / "template"
    source.mkdir(parents=True)
    archive = subprocess.run(  # noqa: S603
        ["git", "archive", "--format=tar", commit, *([directory] if directory else [])],  # noqa: S607
        cwd=repo,
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise Refused(f"git archive {commit} {directory or ''} failed: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=__import__("io").BytesIO(archive.stdout)) as tar:
        tar.extractall(source, filter="data")
    template = source / directory if directory else source
    saved = {k: os.environ.get(k) for k in ("ML_TEMPLATE_QUIET", "ML_TEMPLATE_NO_VENDOR")}
    os.environ.update(ML_TEMPLATE_QUIET="1", ML_TEMPLATE_NO_VENDOR="1")
    try:
        context = {k: v for k, v in answers.items() if not k.startswith("_")}
        baked = Path(cookiecutter(str(template), no_input=True, extra_context=context, output_dir=str(into / "out")))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return baked


def files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if (p.is_file() or p.is_symlink()) and not IGNORED & set(p.relative_to(root).parts)
    }


def owned_by_project(rel: str, skip: Sequence[str]) -> bool:
    return any(rel == s or rel.startswith(s.rstrip("/") + "/") or fnmatch.fnmatch(rel, s) for s in skip)


def renames(base: Path, theirs: Path, removed: set[str], added: set[str]) -> dict[str, str]:
    """Files the template renamed between two bakes (git's rename detection): old path -> new."""
    if not removed or not added:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        git("init", "-q", cwd=repo)
        for rel in removed:
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(base / rel, repo / rel)
        git("add", "-A", cwd=repo)
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base", cwd=repo)
        for rel in removed:
            (repo / rel).unlink()
        for rel in added:
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(theirs / rel, repo / rel)
        git("add", "-A", cwd=repo)
        status = git("diff", "--cached", "-M", "--name-status", "HEAD", cwd=repo)
    pairs = {}
    for line in status.splitlines():
        parts = line.split("\t")
        if parts[0].startswith("R") and len(parts) == 3:
            pairs[parts[1]] = parts[2]
    return pairs


# -- the merge ------------------------------------------------------------------------------------
@dataclass
class Outcome:
    updated: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def same(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and filecmp.cmp(a, b, shallow=False)


def merge_file(ours: Path, base: Path | None, theirs: Path, labels: tuple[str, str, str]) -> bool:
    """Three-way merge of ``theirs`` into ``ours`` in place (``base`` None: an empty one); True when clean."""
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty"
        empty.write_bytes(b"")
        done = subprocess.run(  # noqa: S603
            [
                "git",
                "merge-file",
                "-L",
                labels[0],
                "-L",
                labels[1],
                "-L",
                labels[2],
                str(ours),
                str(base or empty),
                str(theirs),
            ],  # noqa: S607
            capture_output=True,
            check=False,
        )
    if done.returncode < 0 or done.returncode > 127:
        raise Refused(f"git merge-file failed on {ours}: {done.stderr.decode().strip()}")
    return done.returncode == 0


def is_text(path: Path) -> bool:
    return b"\0" not in path.read_bytes()[:8192]


def merge_into(project: Path, base: Path, theirs: Path, skip: Sequence[str], versions: tuple[str, str]) -> Outcome:
    """Apply the template's change ``base`` -> ``theirs`` to ``project``, file by file."""
    out = Outcome()
    labels = ("yours", f"template {versions[0][:10]}", f"template {versions[1][:10]}")
    old, new = files(base) - {RECORD}, files(theirs) - {RECORD}
    moved = renames(base, theirs, old - new, new - old)

    def put(rel: str, src: Path) -> None:
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, project / rel)

    def three_way(rel_ours: str, rel_base: str, rel_theirs: str) -> None:
        ours, b, t = project / rel_ours, base / rel_base, theirs / rel_theirs
        if same(b, t):
            return  # the template did not change it: the learner's stays
        if same(ours, b):
            put(rel_theirs, t)
            out.updated.append(rel_theirs)
            return
        if not (is_text(ours) and is_text(b) and is_text(t)):
            out.conflicts.append(f"{rel_theirs}: binary, changed by you and by the template (yours kept)")
            return
        if rel_ours != rel_theirs:
            put(rel_theirs, ours)
        clean = merge_file(project / rel_theirs, b, t, labels)
        (out.updated if clean else out.conflicts).append(
            rel_theirs if clean else f"{rel_theirs}: both changed the same lines (conflict markers in the file)"
        )

    for rel in sorted(old | new):
        if owned_by_project(rel, skip):
            continue
        ours = project / rel
        if rel in old and rel in new:
            if not ours.exists():
                if not same(base / rel, theirs / rel):
                    out.conflicts.append(f"{rel}: you deleted it, the template changed it (left deleted)")
                continue
            three_way(rel, rel, rel)
        elif rel in new and rel not in moved.values():
            if not ours.exists():
                put(rel, theirs / rel)
                out.added.append(rel)
            elif not same(ours, theirs / rel):
                clean = is_text(ours) and is_text(theirs / rel) and merge_file(ours, None, theirs / rel, labels)
                if clean:
                    out.updated.append(rel)
                else:
                    out.conflicts.append(f"{rel}: added by the template where you have your own file")
        elif rel in moved:
            target = moved[rel]
            if not ours.exists():
                put(target, theirs / target)
                out.added.append(target)
                continue
            if (project / target).exists():
                out.conflicts.append(f"{rel} -> {target}: renamed by the template, but you have a file at {target}")
                continue
            edited = not same(ours, base / rel)
            if same(base / rel, theirs / target) or not edited:
                put(target, ours if edited else theirs / target)
            else:
                put(target, ours)
                if not merge_file(project / target, base / rel, theirs / target, labels):
                    out.conflicts.append(
                        f"{target} (was {rel}): both changed the same lines (conflict markers in the file)"
                    )
            ours.unlink()
            out.renamed.append(f"{rel} -> {target}")
        elif rel in old:
            if not ours.exists():
                continue
            if same(ours, base / rel):
                ours.unlink()
                out.removed.append(rel)
            else:
                out.conflicts.append(f"{rel}: removed by the template, changed by you (yours kept)")
    return out


def uncommitted(project: Path) -> list[str]:
    """The project's uncommitted changes (paths), or [] (not a git checkout: nothing to protect)."""
    if git("rev-parse", "--is-inside-work-tree", cwd=project, check=False) != "true":
        raise Refused(
            f"{project} is not in a git repository: `git init && git add -A && git commit` first, so the update can be reviewed and undone"
        )
    done = subprocess.run(
        ["git", "status", "--porcelain", "--", "."], cwd=project, capture_output=True, text=True, check=False
    )  # noqa: S607
    return [line for line in done.stdout.splitlines() if line.strip()]


def parse_sets(given: Sequence[str]) -> dict[str, str]:
    answers = {}
    for pair in given:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise Refused(f"--set takes key=value, not {pair!r}")
        answers[key] = value
    return answers


def update(
    project: Path, to: str | None = None, template: str | None = None, sets: Mapping[str, str] | None = None
) -> tuple[Outcome, dict[str, Any]]:
    project = Path(project).resolve()
    record = read_record(project)
    dirty = uncommitted(project)
    if dirty:
        raise Refused(
            f"{len(dirty)} uncommitted change(s) in {project.name} ({', '.join(d[3:] for d in dirty[:5])}"
            f"{', ...' if len(dirty) > 5 else ''}): commit or stash them first (git stash), then run the update again"
        )
    answers = dict(record["context"]["cookiecutter"])
    unknown = set(sets or {}) - set(answers)
    if unknown:
        raise Refused(f"--set: no such answer {sorted(unknown)} (the answers: {', '.join(sorted(answers))})")
    with clone_if_remote(record, project, template) as repo:
        target = git("rev-parse", f"{to or 'HEAD'}^{{commit}}", cwd=repo)
        tag = git("describe", "--tags", "--exact-match", target, cwd=repo, check=False) or None
        new_answers = {**answers, **(sets or {})}
        if target == record["commit"] and new_answers == answers:
            return Outcome(), record
        with tempfile.TemporaryDirectory() as tmp:
            base = bake_at(repo, record["commit"], record.get("directory"), answers, Path(tmp) / "base")
            theirs = bake_at(repo, target, record.get("directory"), new_answers, Path(tmp) / "theirs")
            fresh = json.loads((theirs / RECORD).read_text(encoding="utf-8"))
            outcome = merge_into(project, base, theirs, list(record.get("skip", [])), (record["commit"], target))
    new_record = {
        **fresh,
        "template": record["template"],
        "directory": record.get("directory"),
        "commit": target,
        "checkout": tag,
    }
    write_record(project, new_record)
    return outcome, new_record


def behind(project: Path, to: str | None = None, template: str | None = None) -> tuple[list[str], list[str], str]:
    """The template's commits (one line each) and tags the project lacks, and the target commit."""
    project = Path(project).resolve()
    record = read_record(project)
    with clone_if_remote(record, project, template) as repo:
        target = git("rev-parse", f"{to or 'HEAD'}^{{commit}}", cwd=repo)
        where = [record["directory"]] if record.get("directory") else []
        span = f"{record['commit']}..{target}"
        commits = git("log", "--format=%h %ad %s", "--date=short", span, "--", *where, cwd=repo).splitlines()
        tags = git("tag", "--contains", record["commit"], "--merged", target, cwd=repo, check=False).splitlines()
        tags = [t for t in tags if git("rev-parse", f"{t}^{{commit}}", cwd=repo) != record["commit"]]
    return commits, tags, target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ml-template", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("check", "is the project behind its template?"), ("update", "take the template's changes")):
        one = sub.add_parser(name, help=text)
        one.add_argument("--project", type=Path, default=Path())
        one.add_argument(
            "--to", default=None, help="template version: a commit, tag or branch (default: the repository's HEAD)"
        )
        one.add_argument(
            "--template", default=None, help="a local clone of the template's repository (default: the recorded one)"
        )
        if name == "check":
            one.add_argument("--exit-code", action="store_true", help="exit 1 when the project is behind")
        else:
            one.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change a recorded answer")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            commits, tags, target = behind(args.project, args.to, args.template)
            if not commits:
                print(f"up to date with the template ({target[:10]})")
                return 0
            print(f"behind the template by {len(commits)} commit(s) touching it ({target[:10]} is newer):")
            print("\n".join(f"  {c}" for c in commits[:50]))
            if tags:
                print(f"newer template releases: {', '.join(tags)}")
            print("take them with `make template-update` (commit your work first)")
            return 1 if args.exit_code else 0
        outcome, record = update(args.project, args.to, args.template, parse_sets(args.set))
    except Refused as exc:
        print(f"template: {exc}", file=sys.stderr)
        return 2
    if not any(vars(outcome).values()):
        print(f"template: nothing to change; the record names {record['commit'][:10]}")
        return 0
    for title, rows in (
        ("updated", outcome.updated),
        ("added", outcome.added),
        ("removed", outcome.removed),
        ("renamed", outcome.renamed),
    ):
        for row in rows:
            print(f"  {title:8} {row}")
    print(
        f"template: now at {record['commit'][:10]}{' (' + record['checkout'] + ')' if record['checkout'] else ''}; review with `git diff`"
    )
    if outcome.conflicts:
        print(f"template: {len(outcome.conflicts)} conflict(s) to resolve, then commit:", file=sys.stderr)
        for row in outcome.conflicts:
            print(f"  CONFLICT {row}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
