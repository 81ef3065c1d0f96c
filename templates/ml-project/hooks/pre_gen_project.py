"""Stop generation at once, with one line, when an answer is invalid (cookiecutter itself checks
``task_type`` against its choice list)."""

import re
import sys

SLUG = "{{ cookiecutter.project_slug }}"
PACKAGE = "{{ cookiecutter.package_name }}"
PYTHON = "{{ cookiecutter.python_version }}"

problems = []
if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", SLUG):
    problems.append(f"project_slug {SLUG!r} must be lowercase letters, digits and single hyphens, starting with a letter")
if not re.fullmatch(r"[a-z][a-z0-9_]*", PACKAGE) or PACKAGE in {"mlcore", "test", "tests", "src"}:
    problems.append(f"package_name {PACKAGE!r} must be a lowercase Python identifier (and not mlcore/tests/src)")
if not re.fullmatch(r"3\.(1[1-9])", PYTHON):
    problems.append(f"python_version {PYTHON!r} must be 3.11 or newer, like 3.11")
if problems:
    print("ERROR: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
