"""Checks and escapes for the template's answers (a cookiecutter local extension).

Checks run while cookiecutter renders the answers (``__answers_checked`` in cookiecutter.json),
before anything is written: a bad answer stops generation with one line, ``ERROR: ...`` saying
what is wrong and what would work (cookiecutter prints this exception as its message alone).
Filters escape free text for where it lands: ``escaped`` (inside a double-quoted Python or TOML
string, docstrings included) and ``markdown`` (text in a Markdown paragraph or heading).
"""

from __future__ import annotations

import keyword
import re
import sys
from typing import Any

from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

SUPPORTED_PYTHON = ("3.11", "3.12", "3.13", "3.14")
MAX_NAME = 64  # a folder and package name, with room under the file system's 255-byte limit
# Import names the generated project depends on (or the suite's own): a package of that name would
# shadow the real module.
DEPENDENCIES = {
    "accelerate",
    "cookiecutter",
    "dvc",
    "evidently",
    "fastapi",
    "httpx",
    "hydra",
    "jinja2",
    "matplotlib",
    "mlcore",
    "mlflow",
    "numpy",
    "omegaconf",
    "onnx",
    "onnxruntime",
    "optuna",
    "orjson",
    "pandas",
    "PIL",
    "prometheus_client",
    "pydantic",
    "pytest",
    "safetensors",
    "scipy",
    "skops",
    "sklearn",
    "starlette",
    "tokenizers",
    "torch",
    "tqdm",
    "transformers",
    "uvicorn",
    "yaml",
    "src",
    "test",
    "tests",
}
TEMPLATE_SYNTAX = re.compile(r"{{|{%|{#")


class Refused(FailedHookException):
    """One line for the person generating a project."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("ERROR: " + "; ".join(problems))


def problems(answers: dict[str, Any]) -> list[str]:
    """What is wrong with the answers, each with what would work."""
    found = []
    for key in ("project_name", "project_slug", "package_name", "description", "author"):
        if TEMPLATE_SYNTAX.search(str(answers.get(key, ""))):
            found.append(f"{key} must not contain template syntax ({{{{, {{% or {{#)")
    slug, package, python = (str(answers.get(k, "")) for k in ("project_slug", "package_name", "python_version"))
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", slug):
        found.append(
            f"project_slug {slug[:80]!r} must be lowercase letters, digits and single hyphens, like my-project"
        )
    elif len(slug) > MAX_NAME:
        found.append(f"project_slug is {len(slug)} characters: use at most {MAX_NAME}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", package):
        found.append(f"package_name {package[:80]!r} must be a lowercase Python identifier, like my_project")
    elif len(package) > MAX_NAME:
        found.append(f"package_name is {len(package)} characters: use at most {MAX_NAME}")
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        found.append(f"package_name {package!r} is a Python keyword: try {package}_model")
    elif package in sys.stdlib_module_names or package in DEPENDENCIES:
        found.append(f"package_name {package!r} would shadow the module of that name: try {package}_model")
    if python not in SUPPORTED_PYTHON:
        found.append(f"python_version {python[:20]!r} must be one of {', '.join(SUPPORTED_PYTHON)}")
    return found


def check_answers(answers: dict[str, Any]) -> str:
    if found := problems(dict(answers)):
        raise Refused(found)
    return "ok"


def escaped(text: Any) -> str:
    """``text`` for the inside of a double-quoted Python or TOML string: backslashes and quotes escaped."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def markdown(text: Any) -> str:
    """``text`` with Markdown's and HTML's special characters escaped, so it reads as written."""
    return re.sub(r"([\\`*_{}\[\]<>#|!])", r"\\\1", str(text))


class AnswerChecks(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["check_answers"] = check_answers
        environment.filters["escaped"] = escaped
        environment.filters["markdown"] = markdown

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        """An answer given on the command line is rendered as a template (``{{ 7*7 }}`` would
        become 49): refuse template syntax in text that is not the template's own (which always
        refers to ``cookiecutter``)."""
        if name is None and TEMPLATE_SYNTAX.search(source) and "cookiecutter" not in source:
            raise Refused([f"{source[:60]!r}: answers must not contain template syntax ({{{{, {{% or {{#)"])
        return source
