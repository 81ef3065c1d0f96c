from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlcore.foundation.waiting import wait_until
from mlcore.serving.predlog import PredictionLog, count_rows, read_window


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


def test_a_locked_database_delays_rows_but_loses_none(tmp_path: Path) -> None:
    """Another process holding the write lock makes writes fail; the writer retries with the rows kept."""
    path = tmp_path / "p.db"
    log = PredictionLog(path, flush_interval=0.05, busy_timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    log.record("1", [{"i": i} for i in range(100)], [{"y": i} for i in range(100)])
    wait_until(lambda: log.write_errors > 0, "a failed write while the database is locked")
    assert log.written == 0 and log._thread.is_alive()
    blocker.execute("COMMIT")
    blocker.close()
    wait_until(lambda: log.written >= 100, "the 100 rows once the lock is gone", seen=lambda: log.written)
    log.close()
    assert [row["i"] for row in read_window(path)["input"]] == list(range(100))


def test_rows_are_committed_while_the_log_is_open(tmp_path: Path) -> None:
    assert count_rows(tmp_path / "p.db") == 0  # no log yet
    log = PredictionLog(tmp_path / "p.db", flush_interval=0.1)
    log.record("1", [{"i": 1}], [{"y": 2}])
    wait_until(lambda: log.written == 1, "the row to be committed", seen=lambda: count_rows(tmp_path / "p.db"))
    assert count_rows(tmp_path / "p.db") == 1 and len(read_window(tmp_path / "p.db")) == 1  # visible before close
    log.close()


def test_a_durable_log_answers_only_after_the_commit_and_groups_waiters(tmp_path: Path) -> None:
    """``durable=True``: each record's future completes once its rows are readable by another
    connection, well before the flush interval; a full queue refuses the rows (the answer with them)."""
    import time

    from mlcore.serving.predlog import LogBehind

    path = tmp_path / "p.db"
    log = PredictionLog(path, flush_interval=30.0, durable=True)
    start = time.monotonic()
    futures = [log.record("1", [{"i": i}], [{"y": i}], request_id=f"r{i}") for i in range(200)]
    for future in futures:
        assert future is not None
        future.result(timeout=10)
    assert time.monotonic() - start < 10  # not the 30 s flush interval
    assert count_rows(path) == 200  # committed: visible to another connection before close
    log.close()

    full = PredictionLog(tmp_path / "q.db", max_queue=1, flush_interval=30.0, durable=True)
    with pytest.raises(LogBehind, match="behind"):
        full.record("1", [{"i": i} for i in range(5)], [{"y": 0}] * 5)
    full.close()


def test_a_lossy_log_returns_no_future(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.db", flush_interval=0.05)
    assert log.record("1", [{"i": 1}], [{"y": 2}]) is None
    log.close()
