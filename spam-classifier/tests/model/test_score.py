"""`make score` (``mlcore.batch``) on this project's trained test model: the service's answers on
the same rows, rejects with their reason and every row accounted for, a job killed with SIGKILL
that resumes to exactly one answer per row, the answers fed to the drift monitor, a folder of
files, and the same answers from Spark (``ENGINE=spark``, local mode)."""

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
from mlcore.serving.predlog import read_window

from spam_classifier.predictor import SERVED

pytestmark = pytest.mark.slow  # every test here scores with the trained model
ROOT = Path(__file__).resolve().parents[2]
SPARK_ROWS = 2000  # "a few thousand rows in local mode"


def items(trained: dict[str, Any], n: int) -> list[dict[str, Any]]:
    test = pd.read_parquet(split_path(trained["cfg"], trained["root"], "test"))
    return SERVED.request_items(test.head(n))


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


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


def test_the_batchs_answers_feed_the_drift_monitor(trained: dict[str, Any], tmp_path: Path) -> None:
    root, cfg = trained["root"], trained["cfg"]
    rows = (items(trained, 60) * 4)[:120]
    log = tmp_path / "batch.db"
    source = write_jsonl(rows, tmp_path / "in.jsonl")
    summary = score(
        SERVED, root / cfg.paths.export, source, tmp_path / "out.parquet", chunk=50, progress=False, log=log
    )
    logged = read_window(log)
    assert len(logged) == summary.scored == 120 and set(logged["model_version"]) == {summary.model_version}
    reports = {name: tmp_path / f"drift.{name}" for name in ("json", "html", "prom")}
    overrides = [f"monitor.prediction_log={log}", "monitor.min_rows=100", f"monitor.report_json={reports['json']}"]
    overrides += [f"monitor.report_html={reports['html']}", f"monitor.metrics_file={reports['prom']}"]
    env = {**os.environ, "ML_PROJECT_ROOT": str(root), "ML_STORE_ROOT": str(root), "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "spam_classifier.monitor", *overrides]
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]  # judged: no drift or drift
    report = json.loads(reports["json"].read_text())
    assert report["n_current"] == 120 and report["status"] != "not_judged"


def test_a_folder_is_scored_file_by_file_or_refused_with_the_reason(trained: dict[str, Any], tmp_path: Path) -> None:
    import base64

    export = trained["root"] / trained["cfg"].paths.export
    folder = tmp_path / "uploads"
    (folder / "day-2").mkdir(parents=True)
    if SERVED.upload_field is None:  # a model of rows: a folder is not its input, and says so
        (folder / "day-2" / "a.txt").write_text("x")
        with pytest.raises(Refused, match="is a folder: this model reads rows"):
            score(SERVED, export, folder, tmp_path / "out.parquet", progress=False)
        return
    good = items(trained, 3)
    for i, item in enumerate(good):
        (folder / ("day-2" if i else "") / f"item-{i}.png").write_bytes(base64.b64decode(item[SERVED.upload_field]))
    (folder / "notes.txt").write_text("not an upload")
    (folder / ".hidden").write_text("left out")
    summary = score(SERVED, export, folder, tmp_path / "out.parquet", chunk=2, progress=False)
    assert (summary.rows_in, summary.scored, summary.rejected) == (4, 3, 1)
    out = pd.read_parquet(summary.output)
    assert sorted(out["key"]) == ["day-2/item-1.png", "day-2/item-2.png", "item-0.png"]
    rejects = pd.read_parquet(summary.rejects)
    assert rejects["key"].tolist() == ["notes.txt"] and rejects["reason"].iloc[0].startswith(SERVED.upload_field)


def test_spark_gives_the_in_process_answers_on_the_same_rows(trained: dict[str, Any], tmp_path: Path) -> None:
    """``mlflow.pyfunc.spark_udf`` on Spark in local mode against the in-process engine."""
    pytest.importorskip("pyspark", reason="make spark installs PySpark (make test does)")
    from mlcore.batch.spark import score_spark

    rows = (items(trained, 200) * 20)[:SPARK_ROWS]
    rows[7] = {**rows[7], "not_a_field": 1}
    source = tmp_path / "in.parquet"
    pd.DataFrame(rows).to_parquet(source)
    export = trained["root"] / trained["cfg"].paths.export
    local = score(SERVED, export, source, tmp_path / "local.parquet", chunk=500, progress=False)
    spark = score_spark(SERVED, export, source, tmp_path / "spark.parquet", master="local[2]")
    assert (spark.rows_in, spark.scored, spark.rejected) == (local.rows_in, local.scored, local.rejected)
    assert pd.read_parquet(spark.rejects)["key"].tolist() == [7]
    ours = pd.read_parquet(local.output).sort_values("key").reset_index(drop=True)
    theirs = pd.read_parquet(spark.output).sort_values("key").reset_index(drop=True)
    assert list(theirs.columns) == list(ours.columns) and len(ours) == len(rows) - 1
    for column in ours.columns:
        if pd.api.types.is_float_dtype(ours[column]):
            assert (ours[column] - theirs[column]).abs().max() <= 1e-9, column
        else:  # nested answers are JSON text in both: compared as values
            assert list(map(decoded, ours[column])) == list(map(decoded, theirs[column])), column
