from __future__ import annotations

from pathlib import Path

import pytest
from mlcore.serving.predlog import PredictionLog, read_window


def test_rows_are_written_in_order_and_windowed(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.db", flush_interval=0.05)
    for i in range(250):
        log.record("3", [{"i": i}], [{"y": i * 2}])
    log.close()
    window = read_window(tmp_path / "p.db")
    assert len(window) == 250 and log.written == 250
    assert window["input"].iloc[0] == {"i": 0} and window["output"].iloc[-1] == {"y": 498}
    last = read_window(tmp_path / "p.db", last=10)
    assert [row["i"] for row in last["input"]] == list(range(240, 250))
    assert set(window["model_version"]) == {"3"}


def test_full_queue_drops_instead_of_blocking(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.db", max_queue=1, flush_interval=5)
    log.record("1", [{"i": i} for i in range(50)], [{"y": 0}] * 50)
    assert log.dropped > 0
    log.close()


def test_missing_log_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="serve some traffic"):
        read_window(tmp_path / "none.db")
