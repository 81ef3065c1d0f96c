"""The demo app (`make app`) against the real API: Streamlit's own testing API drives its flow
(the example predicted, the answer and its explanation shown, feedback stored; the service down),
and headless Chromium takes the page's screenshot after a prediction and finds the answer on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from mlcore.serving.smoke import free_port
from mlcore.webapp import draw
from mlcore.webapp.contract import read
from mlcore.webapp.page import SERVICE_ENV
from mlcore.webapp.screenshot import capture

pytestmark = pytest.mark.slow  # uses the trained pipeline and starts servers
APP = Path(__file__).resolve().parents[2] / "src" / "sentiment_analyzer" / "app.py"


def app_test(service: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(SERVICE_ENV, service)
    return AppTest.from_file(str(APP), default_timeout=120).run()


def expected_headline(server: str) -> str:
    example = read(httpx.get(f"{server}/openapi.json").json()).example
    answer = httpx.post(f"{server}/predict", json=example, timeout=60).json()
    return "Prediction: " + draw.headline(answer)[0]


def test_the_app_predicts_explains_and_stores_feedback(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(server, monkeypatch)
    assert not at.exception and not at.error, [e.value for e in at.error]
    predict = next(b for b in at.button if b.label == "Predict")
    predict.click().run()
    if at.warning and "Choose a file" in at.warning[0].value:  # an upload: AppTest cannot send files
        assert not at.subheader  # the browser test below uploads one
        return
    assert [s.value for s in at.subheader] == [expected_headline(server)], [e.value for e in at.error]
    assert any(m.value.startswith("**Why**") for m in at.markdown)
    next(b for b in at.button if b.label in ("Right", "Responded")).click().run()
    assert len(at.success) == 1 and at.success[0].value.startswith("Feedback stored"), [e.value for e in at.error]


def test_the_app_says_when_the_service_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(f"http://127.0.0.1:{free_port()}", monkeypatch)
    assert not at.exception and len(at.error) == 1 and "not reachable" in at.error[0].value
    assert not at.button


def test_a_screenshot_in_chromium_shows_the_prediction(server: str, tmp_path: Path) -> None:
    shot = tmp_path / "app.png"
    line = capture(APP, server, shot)
    assert line == expected_headline(server)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
