"""mlcore's layers hold: the import-linter contracts in ``shared/pyproject.toml`` pass on the code,
and fail, naming the import, when an upward import or a cycle is planted (inside a function too)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(shared: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(shared / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(shared / "pyproject.toml")],
        cwd=shared,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def copy_of_shared(tmp_path: Path) -> Path:
    dest = tmp_path / "shared"
    shutil.copytree(SHARED / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(SHARED / "pyproject.toml", dest / "pyproject.toml")
    return dest


def plant(module: Path, code: str) -> None:
    module.write_text(module.read_text(encoding="utf-8") + "\n\n" + code + "\n", encoding="utf-8")


def test_the_contracts_hold_on_mlcore() -> None:
    result = lint_imports(SHARED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_inside_a_function_breaks_the_layers(copy_of_shared: Path) -> None:
    plant(
        copy_of_shared / "src/mlcore/foundation/io.py",
        "def _planted() -> None:\n    from mlcore.tasks import stages  # noqa: F401",
    )
    result = lint_imports(copy_of_shared)
    assert result.returncode != 0, result.stdout
    assert "mlcore.foundation is not allowed to import mlcore.tasks" in result.stdout
    assert "mlcore.foundation.io -> mlcore.tasks.stages" in result.stdout


def test_a_cycle_between_two_modules_of_one_layer_is_refused(copy_of_shared: Path) -> None:
    # flavors imports artifacts; artifacts importing flavors back would close a cycle
    plant(
        copy_of_shared / "src/mlcore/lifecycle/artifacts.py",
        "def _planted() -> None:\n    from mlcore.lifecycle import flavors  # noqa: F401",
    )
    result = lint_imports(copy_of_shared)
    assert result.returncode != 0, result.stdout
    assert "No cycles are allowed in mlcore.lifecycle" in result.stdout


def test_serving_stays_in_small_pieces() -> None:
    """The app wires routers; no function of mlcore.serving grows past 60 lines (the app factory
    once held every route in one 342-line closure)."""
    import ast

    serving = SHARED / "src/mlcore/serving"
    long = []
    for path in sorted(serving.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long.append(f"{path.relative_to(serving)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long
    assert len((serving / "app.py").read_text(encoding="utf-8").splitlines()) <= 150
