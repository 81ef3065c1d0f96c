"""`make score` (``mlcore.batch``) on this project's trained test model: the service's answers on
the same rows, rejects with their reason and every row accounted for, and a job killed with
SIGKILL that resumes to exactly one answer per row."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from mlcore.batch import Refused, score
from mlcore.data.stages import split_path

from spam_classifier.predictor import SERVED

ROOT = Path(__file__).resolve().parents[2]


def items(trained: dict[str, Any], n: int) -> list[dict[str, Any]]:
    test = pd.read_parquet(split_path(trained["cfg"], trained["root"], "test"))
    return SERVED.request_items(test.head(n))


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def test_the_batch_gives_the_services_answers_and_accounts_for_every_row(
    trained: dict[str, Any], server: str, tmp_path: Path
) -> None:
    good = items(trained, 24)
    bad = [{**good[0], "not_a_field": 1}, {}]
    source = write_jsonl(good[:10] + bad + good[10:], tmp_path / "in.jsonl")
    export = trained["root"] / trained["cfg"].paths.export
    summary = score(SERVED, export, source, tmp_path / "out.parquet", chunk=7, progress=False)
    assert (summary.rows_in, summary.scored, summary.rejected) == (26, 24, 2)
    rejects = pd.read_parquet(summary.rejects)
    assert rejects["key"].tolist() == [10, 11]
    assert rejects["reason"].iloc[0].startswith("not_a_field") and rejects["reason"].iloc[1]
    out = pd.read_parquet(summary.output)
    assert out["key"].tolist() == [*range(10), *range(12, 26)] and set(out["model_version"]) == {summary.model_version}
    answered = httpx.post(f"{server}/predict", json={"items": good}, timeout=60).json()["predictions"]
    for row, expected in zip(out.to_dict("records"), answered, strict=True):
        for name, value in expected.items():
            if name in row:
                got = json.loads(row[name]) if isinstance(value, (dict, list)) else row[name]
                assert close(got, value) if not isinstance(value, (dict, list)) else got == value, (name, got, value)


def test_an_existing_output_or_leftover_parts_are_refused(trained: dict[str, Any], tmp_path: Path) -> None:
    source = write_jsonl(items(trained, 3), tmp_path / "in.jsonl")
    export = trained["root"] / trained["cfg"].paths.export
    (tmp_path / "out.parquet").write_bytes(b"")
    with pytest.raises(Refused, match="exists"):
        score(SERVED, export, source, tmp_path / "out.parquet", progress=False)
    (tmp_path / "b.parquet.parts").mkdir()
    with pytest.raises(Refused, match="RESUME=1"):
        score(SERVED, export, source, tmp_path / "b.parquet", progress=False)


@pytest.mark.slow
def test_a_job_killed_mid_way_resumes_to_exactly_one_answer_per_row(trained: dict[str, Any], tmp_path: Path) -> None:
    rows = (items(trained, 20) * 15)[:300]
    source = write_jsonl(rows, tmp_path / "in.jsonl")
    export = trained["root"] / trained["cfg"].paths.export
    out, parts = tmp_path / "out.parquet", tmp_path / "out.parquet.parts"
    cmd = [sys.executable, "-m", "mlcore.batch", "--served", "spam_classifier.predictor:SERVED"]
    cmd += ["--model", str(export), "--input", str(source), "--output", str(out), "--chunk", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    job = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(list(parts.glob("part-*.parquet"))) < 5 and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # polling for the parts the job has written
    assert job.poll() is None, (
        f"the job ended before it could be killed: {job.stderr.read().decode()[-2000:] if job.stderr else ''}"
    )
    job.send_signal(signal.SIGKILL)
    job.wait()
    written = len(list(parts.glob("part-*.parquet")))
    assert 5 <= written < 300 and not out.exists(), "no output until every chunk is there"
    refused = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "RESUME=1" in refused.stderr
    resumed = subprocess.run([*cmd, "--resume"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "300 rows in = 300 scored + 0 rejected" in resumed.stdout
    keys = pd.read_parquet(out)["key"].tolist()
    assert keys == list(range(300)) and not parts.exists()
