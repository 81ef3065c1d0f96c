"""Keep the chosen task type's files, drop the other variants, fill the README's variant parts,
record the template's version in .cruft.json, make the folder a git repo if needed."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

TASK = "{{ cookiecutter.task_type }}"

root = Path.cwd()
variant = root / "_variants" / TASK


def fill_readme(readme: Path, parts: Path) -> None:
    """Put the variant's README parts (``_readme/<name>.md``) where ``<!-- variant:<name> -->`` stands:
    a marker alone on its line becomes the part's lines (or goes, when the variant has no such part);
    a marker inside a line becomes the part's text."""
    fragments = {p.stem: p.read_text(encoding="utf-8").strip("\n") for p in parts.glob("*.md")}
    lines = []
    for line in readme.read_text(encoding="utf-8").split("\n"):
        alone = re.fullmatch(r"<!-- variant:(\w+) -->", line)
        if alone:
            if alone.group(1) in fragments:
                lines.append(fragments[alone.group(1)])
            continue
        lines.append(re.sub(r"<!-- variant:(\w+) -->", lambda m: fragments[m.group(1)], line))
    readme.write_text("\n".join(lines), encoding="utf-8")


fill_readme(root / "README.md", variant / "_readme")
shutil.rmtree(variant / "_readme", ignore_errors=True)
moves = [(src, root / src.relative_to(variant)) for src in sorted(variant.rglob("*")) if src.is_file()]
shadowing = [dest.relative_to(root).as_posix() for _, dest in moves if dest.exists()]
if shadowing:  # a variant adds files; it never replaces one of the base (cookiecutter then removes the folder)
    print(f"ERROR: template bug: variant {TASK} would overwrite base files {shadowing}", file=sys.stderr)
    sys.exit(1)
for src, dest in moves:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), dest)
shutil.rmtree(root / "_variants")

# Baked outside the suite, a project carries what `make install` needs to stand alone: the suite's
# pins and mlcore's wheel (`make vendor`). The suite's own bakes (sync check, bake matrix) skip it.
suite = Path("{{ cookiecutter._repo_dir }}").resolve().parents[1]
inside_suite = (root.parent / "shared" / "pyproject.toml").exists()
if (suite / "shared" / "pyproject.toml").exists() and not inside_suite and not os.environ.get("ML_TEMPLATE_NO_VENDOR"):
    vendored = subprocess.run(
        ["make", "--no-print-directory", "vendor", f"SUITE={suite}", f"PYTHON={sys.executable}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if vendored.returncode != 0:
        reason = (vendored.stderr or vendored.stdout).strip().splitlines()[-1:] or ["make failed"]
        print(f"WARNING: mlcore not vendored ({reason[0]}); run `make vendor SUITE=<suite checkout>`", file=sys.stderr)



def git_out(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


# The template's version (`make template-update` merges from it): its repository (the origin
# remote, else its path, relative when the project lies inside it), folder, commit and tag.
template_dir = Path("{{ cookiecutter._repo_dir }}").resolve()
top = git_out("rev-parse", "--show-toplevel", cwd=template_dir) if shutil.which("git") else ""
if top:
    record_path = root / ".cruft.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    source = git_out("remote", "get-url", "origin", cwd=Path(top)) or top
    if source == top and root.resolve().is_relative_to(Path(top)):
        source = os.path.relpath(top, root.resolve())
    commit = git_out("rev-parse", "HEAD", cwd=Path(top))
    record.update(
        template=source,
        directory=template_dir.relative_to(Path(top)).as_posix() or None,
        commit=commit or None,
        checkout=git_out("describe", "--tags", "--exact-match", "HEAD", cwd=Path(top)) or None,
    )
    record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    changed = git_out("status", "--porcelain", "--", ".", cwd=template_dir)
    if changed and not os.environ.get("ML_TEMPLATE_QUIET"):
        print(f"WARNING: the template has uncommitted changes; .cruft.json records {commit[:10]}, which lacks them", file=sys.stderr)

# DVC needs git: inside an existing repository the project is a DVC subdir repo, else its own repo.
inside_git = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], capture_output=True, cwd=root).returncode == 0
if not inside_git and shutil.which("git"):
    subprocess.run(["git", "init", "-q"], cwd=root, check=False)

if not os.environ.get("ML_TEMPLATE_QUIET"):  # the suite's own re-bakes (sync check) stay quiet
    print(
        f"""
Created {root.name} ({TASK}). Next steps:
  cd {root}
  make install     # pinned dependencies, mlcore and this project (inside the suite: the suite's .venv)
  make test        # code, data and model tests on the shipped sample
  make train       # the DVC pipeline: ingest -> ... -> promote (MLflow run, registry, @champion)
  make serve       # the API on http://127.0.0.1:8000 (docs at /docs); README.md has an example request
"""
    )
