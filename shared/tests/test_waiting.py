"""The one wait helper every test uses: polls a condition, returns its value, says what it saw."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from mlcore.foundation.waiting import WaitTimeout, default_timeout, wait_until


def test_returns_the_first_truthy_value_once_the_condition_holds() -> None:
    results = iter([None, 0, [], {"rows": 3}])
    assert wait_until(lambda: next(results), "rows", every=0.001) == {"rows": 3}


def test_waits_for_something_another_thread_does() -> None:
    done = threading.Event()
    threading.Timer(0.05, done.set).start()  # the event this test waits for, not a synchronisation
    assert wait_until(done.is_set, "the other thread", timeout=30) is True


def test_listed_exceptions_mean_not_yet_and_others_propagate() -> None:
    calls = itertools.count()

    def port() -> str:
        if next(calls) < 3:
            raise ConnectionRefusedError("not listening yet")
        return "open"

    assert wait_until(port, "the port", every=0.001, retry_on=(ConnectionRefusedError,)) == "open"
    with pytest.raises(KeyError):
        wait_until(lambda: {}["missing"], "a key", every=0.001, retry_on=(ConnectionRefusedError,))


def test_a_timeout_names_the_condition_the_last_result_and_what_was_seen() -> None:
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: 0, "the log line", timeout=0.05, every=0.01, seen=lambda: "server log: booting")
    message = str(caught.value)
    assert "the log line" in message and "last result: 0" in message and "server log: booting" in message
    assert time.monotonic() - started >= 0.05  # it did wait for the whole deadline

    def refused() -> None:
        raise ConnectionRefusedError("refused")

    with pytest.raises(WaitTimeout, match="ConnectionRefusedError: refused"):
        wait_until(refused, "a port", timeout=0.02, every=0.01, retry_on=(OSError,))
    with pytest.raises(WaitTimeout, match="could not be read: 'boom'"):
        wait_until(lambda: False, "x", timeout=0.01, every=0.01, seen=lambda: {}["boom"])
    assert isinstance(caught.value, AssertionError)  # pytest reports it as a failed assertion


def test_the_default_deadline_is_generous_and_can_be_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ML_WAIT_TIMEOUT_S", raising=False)
    assert default_timeout() >= 30
    monkeypatch.setenv("ML_WAIT_TIMEOUT_S", "240")
    assert default_timeout() == 240
    monkeypatch.setenv("ML_WAIT_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="ML_WAIT_TIMEOUT_S must be a number of seconds"):
        default_timeout()
