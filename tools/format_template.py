"""Keep the template's Python ruff-clean: bake each task type, format and fix the bake with ruff,
write the result back into the template with the names turned back into placeholders. Each
variant's ``params.yaml`` is composed again from the bake's configs the same way (mlcore's
fingerprints left blank, as `make params` fills them in).

    python tools/format_template.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from suite import TEMPLATE, bake

PROBE = {
    "project_name": "Zq Probe",
    "project_slug": "zq-probe",
    "package_name": "zq_probe",
    "description": "Zq description.",
    "author": "Zq Author",
}
PLACEHOLDERS = {
    "zq_probe": "{{ cookiecutter.package_name }}",
    "zq-probe": "{{ cookiecutter.project_slug }}",
    "Zq Probe": "{{ cookiecutter.project_name }}",
    "Zq description.": "{{ cookiecutter.description }}",
    "Zq Author": "{{ cookiecutter.author }}",
}
PROJECT_DIR = TEMPLATE / "{{cookiecutter.project_slug}}"
FILTERED = re.compile(r"{{[^}]*\|[^}]*}}")  # a placeholder with a filter, e.g. {{ cookiecutter.author | escaped }}


def source_of(rel: str, task: str) -> Path | None:
    rel = rel.replace("src/zq_probe/", "src/{{cookiecutter.package_name}}/")
    for candidate in (PROJECT_DIR / "_variants" / task / rel, PROJECT_DIR / rel):
        if candidate.exists():
            return candidate
    return None


def recompose_params(root: Path, task: str) -> int:
    """Write the variant's ``params.yaml`` as `make params` composes it for the bake ``root``."""
    subprocess.run([sys.executable, "-m", "mlcore.foundation.config"], cwd=root, check=True, capture_output=True)
    text = (root / "params.yaml").read_text()
    text = re.sub(r"(?m)^(mlcore:\n(?:  \w+: .*\n)+)", lambda m: re.sub(r": .*", ": ''", m.group(1)), text)
    text = text.replace(f"task_type: {task}", "task_type: {{ cookiecutter.task_type }}")
    for value, placeholder in PLACEHOLDERS.items():
        text = text.replace(value, placeholder)
    target = PROJECT_DIR / "_variants" / task / "params.yaml"
    if target.read_text() == text:
        return 0
    target.write_text(text)
    print(f"composed {target.relative_to(TEMPLATE)}")
    return 1


def main() -> int:
    tasks = json.loads((TEMPLATE / "cookiecutter.json").read_text())["task_type"]
    ruff = str(Path(sys.executable).parent / "ruff")
    changed = 0
    for task in tasks:
        with tempfile.TemporaryDirectory() as tmp:
            root = bake({**PROBE, "task_type": task}, Path(tmp))
            subprocess.run([ruff, "check", "--fix", "-q", "--exit-zero", "."], cwd=root, check=True)
            subprocess.run([ruff, "format", "-q", "."], cwd=root, check=True)
            for path in sorted(root.rglob("*.py")):
                rel = path.relative_to(root).as_posix()
                source = source_of(rel, task)
                if source is None:
                    continue
                if "{%" in source.read_text() or FILTERED.search(source.read_text()):
                    # Jinja blocks and filters would be lost on write-back: report, let a person fix it.
                    check = subprocess.run([ruff, "format", "--check", "-q", str(path)], check=False)
                    if check.returncode:
                        print(f"needs formatting by hand (has Jinja blocks or filters): {source.relative_to(TEMPLATE)}")
                    continue
                text = path.read_text()
                for value, placeholder in PLACEHOLDERS.items():
                    text = text.replace(value, placeholder)
                if source.read_text() != text:
                    source.write_text(text)
                    changed += 1
                    print(f"formatted {source.relative_to(TEMPLATE)}")
            changed += recompose_params(root, task)
    print(f"{changed} template file(s) rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
