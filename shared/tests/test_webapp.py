"""mlcore.webapp: the demo app read from a real service's OpenAPI document and driven with
Streamlit's own testing API against that service on loopback (``demo_api.py``): the answer, a
refusal naming the field, feedback stored, and the service down."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from demo_api import export, make_spec
from fastapi.testclient import TestClient
from mlcore.serving.app import create_app
from mlcore.serving.smoke import free_port, running_server
from mlcore.webapp import draw
from mlcore.webapp.contract import FORM, TEXT, UPLOAD, Field, body_of, read
from mlcore.webapp.page import SERVICE_ENV

HERE = Path(__file__).resolve().parent
APP = 'from mlcore.webapp.page import show\n\nif __name__ == "__main__":\n    show(title="Demo")\n'


def document(tmp_path: Path, **spec: object) -> dict:
    export(tmp_path / "export", "1", 2.0)
    with TestClient(create_app(make_spec(tmp_path, **spec))) as client:
        return client.get("/openapi.json").json()


def test_the_contract_is_read_from_the_service_document(tmp_path: Path) -> None:
    contract = read(document(tmp_path, feedback_kind="value"))
    assert contract.kind == FORM and not contract.explains
    assert [(f.name, f.kind, f.required) for f in contract.fields] == [("x", "number", True)]
    assert contract.feedback == ("value", "number")
    assert read(document(tmp_path / "plain")).feedback is None


def test_form_values_become_the_item_and_bad_json_names_its_field() -> None:
    fields = [Field("n", "number"), Field("note", "text"), Field("rows", "json"), Field("opt", "number")]
    assert body_of(fields, {"n": 2.5, "note": "", "rows": '[{"a": 1}]', "opt": None}) == {
        "n": 2.5,
        "note": "",
        "rows": [{"a": 1}],
    }
    with pytest.raises(ValueError, match="rows: not JSON"):
        body_of(fields, {"rows": "[{"})


def test_the_drawings_escape_words_and_order_terms_by_size() -> None:
    page = draw.highlighted([{"name": "<script>", "contribution": 2.0}, {"name": "ok", "contribution": -1.0}])
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "rgba(220, 40, 40, 1.00)" in page and "rgba(40, 90, 230, 0.50)" in page
    terms = [{"name": "a", "value": 3, "contribution": 0.1}, {"name": "b", "contribution": -0.5}]
    assert list(draw.contributions(terms)["term"]) == ["b", "a = 3"]
    commas = [{"name": ",", "position": 2, "contribution": 0.1}, {"name": ",", "position": 4, "contribution": 0.2}]
    assert list(draw.contributions(commas)["term"]) == [", (word 5)", ", (word 3)"]  # repeated words kept apart
    assert draw.headline({"label": "spam", "spam_probability": 0.91}) == ("spam", "probability 0.910")
    assert draw.headline({"segment": 2, "segment_name": "loyal"})[0] == "loyal"
    assert draw.headline({"prediction": 1000.0, "interval": [900.0, 1100.0], "interval_coverage": 0.9})[0] == (
        "1,000.00"
    )


def app_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: str):  # noqa: ANN201 - AppTest
    from streamlit.testing.v1 import AppTest

    script = tmp_path / "app.py"
    script.write_text(APP)
    monkeypatch.setenv(SERVICE_ENV, service)
    return AppTest.from_file(str(script), default_timeout=60).run()


def test_the_app_answers_refuses_naming_the_field_and_stores_feedback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export(tmp_path / "export", "1", 2.0)
    port = free_port()
    cmd = [sys.executable, str(HERE / "demo_api.py"), str(tmp_path), str(port), f"feedback_kind={json.dumps('value')}"]
    with running_server(cmd, port, cwd=tmp_path) as (base, _):
        at = app_test(tmp_path, monkeypatch, base)
        assert not at.exception and not at.error
        at.number_input[0].set_value(3.0)
        at.button[0].click().run()
        assert [s.value for s in at.subheader] == ["Prediction: 6.0"], [e.value for e in at.error]
        assert "model version 1" in at.caption[-1].value
        right = next(b for b in at.button if b.label == "Right")
        right.click().run()
        assert [s.value for s in at.success] == ["Feedback stored: value = 6.0"], [e.value for e in at.error]
        with sqlite3.connect(tmp_path / "log.db") as db:
            assert db.execute("SELECT outcome FROM feedback").fetchall() == [('{"value": 6.0}',)]

        at.number_input[0].set_value(500.0)
        at.button[0].click().run()
        refused = [e.value for e in at.error]
        assert len(refused) == 1 and "refused" in refused[0] and "x:" in refused[0], refused
        assert not at.subheader  # no stale answer beside the refusal


def test_the_app_says_the_service_is_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(tmp_path, monkeypatch, f"http://127.0.0.1:{free_port()}")
    assert not at.exception
    assert len(at.error) == 1 and "not reachable" in at.error[0].value and "is it running" in at.error[0].value
    assert not at.button  # nothing to press without a service


def test_text_and_upload_services_get_their_own_input() -> None:
    base = {
        "paths": {"/predict": {"post": {"requestBody": {"content": {}}}}},
        "components": {"schemas": {"Item": {"properties": {"text": {"type": "string"}}, "required": ["text"]}}},
    }
    content = base["paths"]["/predict"]["post"]["requestBody"]["content"]
    content["application/json"] = {"schema": {"oneOf": [{"$ref": "#/components/schemas/Item"}]}}
    assert read(base).kind == TEXT
    content["multipart/form-data"] = {"schema": {}}
    assert read(base).kind == UPLOAD
