"""mlcore.batch on a small model built here: memory bounded by the chunk, whatever the input's size.

The model is a package written into the test's folder (``batchdemo``: ``y = 2x``, ``n = len(text)``)
with the export ``demo_api.export`` writes; each job runs as its own process, which reports its
peak resident memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from demo_api import export
from mlcore.batch import Refused, score
from mlcore.serving.predlog import connect, read_window, replace_rows

HERE = Path(__file__).resolve().parent
PACKAGE = """
from typing import Any
import pandas as pd
from mlcore.foundation.served import ServedModel, ServedPredictor
from pydantic import BaseModel, ConfigDict


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    x: float


class Answer(BaseModel):
    y: float
    n: int


class Scorer(ServedPredictor):
    def predict(self, items: Any) -> list[dict[str, Any]]:
        return [{"y": item.x * 2, "n": len(item.text)} for item in items]

    def drift_frame(self, inputs: Any, outputs: Any = None) -> pd.DataFrame:
        return pd.DataFrame(list(inputs))


SERVED = ServedModel(
    package="batchdemo", home="batchdemo.served:SERVED", item=Item, answer=Answer,
    load=lambda path: Scorer(), request_items=lambda frame: frame.to_dict(orient="records"),
)
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batchdemo")
    (root / "batchdemo").mkdir()
    (root / "batchdemo" / "__init__.py").write_text("")
    (root / "batchdemo" / "served.py").write_text(PACKAGE)
    export(root / "export", "3", 2.0)
    return root


def rows(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz "))
    texts = ["".join(rng.choice(letters, 300)) for _ in range(min(n, 2000))]
    return pd.DataFrame({"text": [texts[i % len(texts)] + str(i) for i in range(n)], "x": rng.random(n)})


def run_job(demo: Path, source: Path, output: Path, chunk: int) -> dict:
    cmd = [sys.executable, "-m", "mlcore.batch", "--served", "batchdemo.served:SERVED", "--model", str(demo / "export")]
    cmd += ["--input", str(source), "--output", str(output), "--chunk", str(chunk)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(demo), str(HERE)])}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_memory_follows_the_chunk_not_the_input(demo: Path, tmp_path: Path) -> None:
    """An input ten times larger costs the job far less than holding it would (its in-memory size)."""
    small, big = tmp_path / "small.parquet", tmp_path / "big.parquet"
    rows(24_000).to_parquet(small, row_group_size=4_000)
    frame = rows(240_000)
    frame.to_parquet(big, row_group_size=4_000)
    held = frame.memory_usage(deep=True).sum() / 2**20
    del frame
    assert held > 80, f"the big input must be large enough to show (it takes {held:.0f} MB in memory)"
    a = run_job(demo, small, tmp_path / "a.parquet", chunk=4_000)
    b = run_job(demo, big, tmp_path / "b.parquet", chunk=4_000)
    assert (a["rows_in"], b["rows_in"], b["scored"]) == (24_000, 240_000, 240_000)
    grown = b["peak_rss_mb"] - a["peak_rss_mb"]
    assert grown < 0.25 * held, f"peak {a['peak_rss_mb']} -> {b['peak_rss_mb']} MB for an input of {held:.0f} MB"
    out = pd.read_parquet(tmp_path / "b.parquet")
    assert out["key"].tolist() == list(range(240_000)) and out["n"].iloc[-1] == 300 + len("239999")


def test_a_resumed_chunk_is_logged_once(tmp_path: Path) -> None:
    conn = connect(tmp_path / "log.db")
    for _ in range(2):  # the chunk scored again after a crash
        replace_rows(conn, "batch:abc:v1:0", "1", [{"x": 1.0}, {"x": 2.0}], [{"y": 2.0}, {"y": 4.0}], "batch")
    replace_rows(conn, "batch:abc:v1:1", "1", [{"x": 3.0}], [{"y": 6.0}], "batch")
    conn.close()
    logged = read_window(tmp_path / "log.db")
    assert [row["x"] for row in logged["input"]] == [1.0, 2.0, 3.0]


def test_a_folder_with_a_model_of_rows_and_a_bad_input_are_refused_with_what_to_do(demo: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(demo))
    try:
        from batchdemo.served import SERVED
    finally:
        sys.path.remove(str(demo))
    (tmp_path / "in").mkdir()
    with pytest.raises(Refused, match="is a folder: this model reads rows"):
        score(SERVED, demo / "export", tmp_path / "in", tmp_path / "out.parquet", progress=False)
    (tmp_path / "in.xlsx").write_bytes(b"")
    with pytest.raises(Refused, match="read parquet, CSV or JSON lines"):
        score(SERVED, demo / "export", tmp_path / "in.xlsx", tmp_path / "out.parquet", progress=False)
    with pytest.raises(Refused, match="does not exist"):
        score(SERVED, demo / "export", tmp_path / "nothing.csv", tmp_path / "out.parquet", progress=False)


def test_cells_become_what_json_would_carry() -> None:
    """Parquet hands nested lists as numpy arrays, numbers as numpy scalars, gaps as NaN."""
    from mlcore.batch.local import plain, request_rows

    cell = np.array([{"date": "2024-01-02", "amount": np.float64(3.5)}, {"date": "2024-01-03", "amount": np.nan}])
    assert plain(cell) == [{"date": "2024-01-02", "amount": 3.5}, {"date": "2024-01-03", "amount": None}]
    frame = pd.DataFrame({"id": [7, 8], "x": [1.5, np.nan], "when": pd.to_datetime(["2024-01-02", "2024-01-03"])})
    rows = request_rows(frame, "id")
    assert rows[0]["x"] == 1.5 and "x" not in rows[1] and all("id" not in row for row in rows)
