"""`make test`'s runner (tools/run_tests.py): every section runs, a failing one is named, totals add up."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import run_tests
from run_tests import Section, run_all, summary_counts


def write_tests(folder: Path, passing: int, failing: int, skipped: int) -> Path:
    folder.mkdir(parents=True)
    lines = ["import pytest"]
    lines += [f"def test_ok_{i}():\n    assert True" for i in range(passing)]
    lines += [f"def test_bad_{i}():\n    assert 1 == 2" for i in range(failing)]
    lines += [f"@pytest.mark.skip(reason='x')\ndef test_skip_{i}():\n    pass" for i in range(skipped)]
    (folder / "test_it.py").write_text("\n\n".join(lines) + "\n")
    return folder


def pytest_section(name: str, folder: Path) -> Section:
    return Section(name, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)])


def test_summary_counts_read_pytest_closing_line() -> None:
    assert summary_counts(["x\n", "== 3 passed, 2 skipped, 1 warning in 1.20s ==\n"]) == {"passed": 3, "skipped": 2}
    assert summary_counts(["1 failed, 4 passed, 2 errors in 62.00s (0:01:02)\n"]) == {
        "failed": 3,
        "passed": 4,
    }
    assert summary_counts(["no summary here\n"]) == {}


def test_every_section_runs_and_the_table_names_the_failing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    todo = [
        pytest_section("first", write_tests(tmp_path / "a", passing=2, failing=1, skipped=1)),
        Section("broken setup", [sys.executable, "-c", "raise SystemExit(3)"], setup=True),
        pytest_section("last", write_tests(tmp_path / "b", passing=3, failing=0, skipped=0)),
    ]
    report = tmp_path / "report.json"
    rc = run_all(todo, report=report)
    out = capsys.readouterr().out
    assert rc == 1
    assert [s.rc for s in todo] == [1, 3, 0]  # the one after the failures ran too
    closing = out.rstrip("\n").splitlines()[-1]
    assert closing == "total: 5 passed, 2 failed, 1 skipped"  # 1 failed test + 1 failed set-up step
    table = out[out.index("[test] sections") :]
    assert "first" in table and "FAILED" in table.split("first", 1)[1].splitlines()[0]
    assert "ok" in table.split("last", 1)[1].splitlines()[0]
    assert "[test] FAILED: first, broken setup" in out
    figures = json.loads(report.read_text())
    assert figures["failed_sections"] == ["first", "broken setup"] and figures["total"]["passed"] == 5


def test_load_keeps_a_core_busy_and_stops_the_burner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    # the section waits until the burner has used a CPU-second (polling, with a deadline)
    (folder / "test_wait.py").write_text(
        "import os, pathlib\n"
        "from mlcore.foundation.waiting import wait_until\n"
        "def burner_cpu():\n"
        "    for proc in pathlib.Path('/proc').glob('[0-9]*'):\n"
        "        try:\n"
        "            if b'--burn' in (proc / 'cmdline').read_bytes():\n"
        "                f = (proc / 'stat').read_text().rsplit(')', 1)[1].split()\n"
        "                return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 0.0\n"
        "def test_busy():\n"
        "    wait_until(lambda: burner_cpu() >= 1.0, 'the burner to use a CPU-second', seen=burner_cpu)\n"
    )
    started: list[int] = []
    real_start = run_tests.start_burner

    def start() -> object:
        proc = real_start()
        started.append(proc.pid)
        return proc

    monkeypatch.setattr(run_tests, "start_burner", start)
    rc = run_all([pytest_section("busy", folder)], load=True)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "LOAD=1" in out and "the burner used" in out
    assert not Path(f"/proc/{started[0]}").exists() or "zombie" in Path(f"/proc/{started[0]}/status").read_text()
