"""Schema-based fuzzing of the real API with schemathesis, as its command line runs it: every check
(server errors, status codes, content types and answers against the document, valid bodies
accepted and invalid ones refused, authentication enforced) in the examples, coverage, fuzzing and
stateful phases, with the settings of ``schemathesis.toml`` and the check of ``fuzz_checks.py``
beside this file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
PROJECT = Path(__file__).parents[2]  # schemathesis.toml names its hooks file from here
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 25  # per operation and phase: about 1,000 requests in all
PHASES = "examples,coverage,fuzzing,stateful"


def schemathesis(server: str, root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``schemathesis run`` against ``server`` with this project's config and its admin token."""
    token = (root / "models" / ".admin-token").read_text(encoding="utf-8").strip()
    command = [
        sys.executable,
        "-c",
        "from schemathesis.cli import schemathesis; schemathesis()",
        "--config-file",
        str(CONFIG),
        "run",
        f"{server}/openapi.json",
        "--phases",
        PHASES,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--no-color",
        *extra,
    ]
    env = {**os.environ, "ADMIN_TOKEN": token}
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd=PROJECT, check=False)


def test_fuzzing_the_api_finds_no_failure_of_any_kind(server: str, trained: dict) -> None:
    run = schemathesis(server, trained["root"])
    report = run.stdout + run.stderr
    print(report[-3000:])
    assert run.returncode == 0, report[-12000:]
    phases = re.findall(r"(✅|❌|⏭)\s+(Examples|Coverage|Fuzzing|Stateful)", report)
    assert {name for mark, name in phases if mark == "✅"} == {"Examples", "Coverage", "Fuzzing", "Stateful"}, phases
    cases = re.search(r"(\d+) generated", report)
    assert cases and int(cases.group(1)) > 300, report[-2000:]
