"""`make test`: every section of the suite's tests, each run even when another fails, then a table.

    python3 tools/run_tests.py [--load] [--report FILE] [--python PY] PROJECT ...

Sections, in order: set-up (virtualenv, browser, containers: podman and the Debian base image,
data), mlcore's tests (``shared/tests``), the template's tests (``tests/``: bake matrix, sync check,
team server), each project's own ``make test`` (its image built and run: podman is required; the
image it checked is kept as ``<project>:suite-test``), the alert loop through Prometheus and
Alertmanager (``tests/loop``), then the team stack (``tests/stack``) with
those five images: nothing is trained or built twice for it. A section's output streams as it runs; its counts come from pytest's summary line.
At the end: a table (section, passed, failed, skipped, seconds), the figures as JSON in ``--report``,
and one closing line ``total: N passed, N failed, N skipped``. Exit status 1 when any section
failed. Only a failed virtualenv stops the rest (nothing can run without it).

``--load`` keeps one core busy for the whole run (a CPU burner in a child process, stopped at the
end and bounded in time on its own): the suite must pass on a busy machine, not only on an idle one.
Standard library only: this runs before the virtualenv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")
SUMMARY = re.compile(
    r"^=*\s*(\d+ (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)[, ]*)+.* in [\d.]+s"
)
KEPT_TAG = "suite-test"  # the projects' checked images, which the stack section then runs
BURN_LIMIT_S = 3 * 3600  # a burner outlives no run: it stops after this, or when its parent is gone


@dataclass
class Section:
    name: str
    cmd: list[str]
    setup: bool = False  # a set-up step: no test counts, only success
    rc: int | None = None
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    note: str = ""
    env: dict[str, str] = field(default_factory=dict)  # added to the section's environment

    @property
    def failed(self) -> bool:
        return self.rc != 0


def sections(python: str, projects: Sequence[str]) -> list[Section]:
    make = ["make", "--no-print-directory"]
    return [
        Section("setup: virtualenv", [*make, "venv"], setup=True),
        Section("setup: browser", [*make, "browser"], setup=True),
        Section("setup: containers", [*make, "containers"], setup=True),
        Section("setup: spark", [*make, "spark"], setup=True),
        Section("setup: data", [*make, "data"], setup=True),
        Section("shared (mlcore)", [python, "-m", "pytest", "shared/tests"]),
        Section(
            "tests (template, sync)", [python, "-m", "pytest", "tests", "--ignore=tests/stack", "--ignore=tests/loop"]
        ),
        *(
            Section(project, [*make, "-C", project, "test"], env={"ML_KEEP_IMAGE_TAG": KEPT_TAG})
            for project in projects
        ),
        Section("alert loop", [python, "-m", "pytest", "tests/loop"]),
        Section("stack", [python, "-m", "pytest", "tests/stack"], env={"ML_STACK_TAG": KEPT_TAG}),
    ]


def summary_counts(lines: Sequence[str]) -> dict[str, int]:
    """Counts from pytest's closing summary line (the last one in the output), e.g.
    ``205 passed, 2 skipped, 1 warning in 312.45s``; errors count as failed."""
    for line in reversed(lines):
        if SUMMARY.search(line.strip()):
            counts: dict[str, int] = {}
            for number, kind in COUNT.findall(line):
                key = "failed" if kind.startswith("error") else kind
                counts[key] = counts.get(key, 0) + int(number)
            return counts
    return {}


def run_section(section: Section) -> None:
    print(f"\n[test] === {section.name}: {' '.join(section.cmd)}", flush=True)
    tail: list[str] = []
    start = time.monotonic()
    # where the time goes: pytest lists each section's slowest tests
    env = {**os.environ, "PYTEST_ADDOPTS": f"{os.environ.get('PYTEST_ADDOPTS', '')} --durations=10".strip()}
    # OpenMP threads (scikit-learn's gradient boosting, torch) spin while they wait for each other;
    # beside a busy core (CI's neighbours, LOAD=1) that spinning took 15 CPU-minutes for a 97 s
    # test. Passive waiting yields the core instead: same results, no spin.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # the projects' image tests fail rather than skip when podman is missing (set-up installs it)
    env.setdefault("ML_REQUIRE_CONTAINERS", "1")
    env |= section.env
    with subprocess.Popen(
        section.cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            tail.append(line)
            del tail[:-200]
        section.rc = proc.wait()
    sys.stdout.flush()
    section.seconds = time.monotonic() - start
    if not section.setup:
        section.counts = summary_counts(tail)
        if section.rc != 0 and not section.counts.get("failed"):
            section.note = f"exit {section.rc}" + ("" if section.counts else ", no pytest summary")


def table(done: Sequence[Section], wall: float) -> str:
    rows = [("section", "result", "passed", "failed", "skipped", "seconds")]
    for s in done:
        result = "not run" if s.rc is None else ("FAILED" if s.failed else "ok")
        if s.note:
            result += f" ({s.note})"
        c = s.counts
        blank = s.setup or s.rc is None
        rows.append(
            (
                s.name,
                result,
                "" if blank else str(c.get("passed", 0)),
                "" if blank else str(c.get("failed", 0)),
                "" if blank else str(c.get("skipped", 0)),
                "" if s.rc is None else f"{s.seconds:.0f}",
            )
        )
    rows.append(("all", "", "", "", "", f"{wall:.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(lines)


def start_burner() -> subprocess.Popen[bytes]:
    """One core kept busy until stopped, until this process is gone, or ``BURN_LIMIT_S``."""
    return subprocess.Popen([sys.executable, __file__, "--burn"], start_new_session=True)


def burn() -> None:
    parent, end = os.getppid(), time.monotonic() + BURN_LIMIT_S
    while time.monotonic() < end and os.getppid() == parent:
        for _ in range(200_000):  # pure computation: one core, no memory, no I/O
            pass


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("projects", nargs="*")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--load", action="store_true", help="keep one core busy for the whole run")
    parser.add_argument("--report", default=str(ROOT / ".test-report.json"))
    parser.add_argument("--burn", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.burn:
        burn()
        return 0
    return run_all(sections(args.python, args.projects), load=args.load, report=Path(args.report))


def run_all(todo: Sequence[Section], load: bool = False, report: Path | None = None) -> int:
    """Run every section (all of them, whatever fails), print the table and the closing line."""
    burner = start_burner() if load else None
    if burner is not None:
        print(f"[test] LOAD=1: a CPU burner (pid {burner.pid}) keeps one of {os.cpu_count()} cores busy", flush=True)
    start = time.monotonic()
    try:
        for section in todo:
            run_section(section)
            if section.name == "setup: virtualenv" and section.failed:
                print("[test] the virtualenv could not be made: nothing else can run", flush=True)
                break
    finally:
        burned = cpu_seconds(burner.pid) if burner is not None else 0.0
        if burner is not None:
            burner.kill()
            burner.wait()
    wall = time.monotonic() - start
    total = {kind: sum(s.counts.get(kind, 0) for s in todo) for kind in ("passed", "failed", "skipped")}
    failed = [s.name for s in todo if s.rc is not None and s.failed]
    # a section that failed without a failed test (set-up, a crash before pytest's summary) counts once
    total["failed"] += sum(1 for s in todo if s.rc is not None and s.failed and not s.counts.get("failed"))
    print(f"\n[test] sections (LOAD={1 if load else 0}, {os.cpu_count()} cores)")
    print(table(todo, wall))
    if burner is not None:
        print(
            f"[test] the burner used {burned:.0f} CPU-s in {wall:.0f} s ({burned / max(wall, 1) * 100:.0f}% of a core)"
        )
    figures = {
        "load": load,
        "cores": os.cpu_count(),
        "wall_s": round(wall, 1),
        "burner_cpu_s": round(burned, 1),
        "total": total,
        "failed_sections": failed,
        "sections": [{**asdict(s), "seconds": round(s.seconds, 1)} for s in todo],
    }
    if report is not None:
        report.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if failed:
        print(f"[test] FAILED: {', '.join(failed)}")
    print(f"total: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
