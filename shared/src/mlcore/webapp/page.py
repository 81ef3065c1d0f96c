"""The app's page (Streamlit): input, answer, explanation, feedback. A project's ``app.py`` calls
``show``; everything task-specific comes from the service's OpenAPI document and answers."""

from __future__ import annotations

import os
from typing import Any

from mlcore.webapp import draw
from mlcore.webapp.client import Refused, Service, ServiceDown
from mlcore.webapp.contract import FORM, TEXT, UPLOAD, Contract, Field, body_of

SERVICE_ENV = "SERVICE_URL"  # where the app finds the service (make app sets it)


def show(title: str, service_url: str | None = None) -> None:
    """Draw the page for the service at ``service_url`` (default ``$SERVICE_URL``)."""
    import streamlit as st

    st.set_page_config(page_title=title, layout="wide")
    st.title(title)
    service = Service(service_url or os.environ.get(SERVICE_ENV, "http://127.0.0.1:8000"))
    try:
        contract = service.contract()
    except (ServiceDown, Refused) as exc:
        st.error(f"The service is not reachable: {exc}")
        st.caption(f"Start it with `make serve`, or run the app with `make app`, which starts it. ({service.url})")
        return
    st.caption(f"Service: {service.url} ({contract.title})")
    asked = ask(st, contract)
    if asked is not None:
        answer(st, service, contract, asked)
    result = st.session_state.get("result")
    if result is not None:
        shown(st, result)
        feedback(st, service, contract, result)


def ask(st: Any, contract: Contract) -> dict[str, Any] | None:
    """The input suited to the task and the Predict button: the request (item or upload) when pressed."""
    with st.form("input"):
        item: dict[str, Any] | None = None
        upload = None
        if contract.kind == UPLOAD:
            name = next((f.name for f in contract.fields), "file")
            upload = st.file_uploader(f"Upload ({name})", type=None)
        elif contract.kind == TEXT:
            item = {"text": st.text_area("Text", value=str(contract.example.get("text", "")), height=120)}
        else:
            values = {}
            columns = st.columns(3)
            for k, spec in enumerate(contract.fields):
                with columns[k % 3]:
                    values[spec.name] = widget(st, spec)
            item = values
        pressed = st.form_submit_button("Predict")
    if not pressed:
        return None
    if contract.kind == UPLOAD:
        if upload is None:
            st.warning("Choose a file first.")
            return None
        return {"upload": (upload.name, upload.getvalue())}
    if contract.kind == FORM:
        try:
            item = body_of(contract.fields, item or {})
        except ValueError as exc:
            st.error(str(exc))
            return None
    return {"item": item}


def widget(st: Any, spec: Field) -> Any:
    help_text = spec.description or None
    if spec.kind == "choice":
        index = spec.choices.index(spec.default) if spec.default in spec.choices else 0
        return st.selectbox(spec.name, spec.choices, index=index, help=help_text)
    if spec.kind == "number":
        return st.number_input(spec.name, value=float(spec.default or 0.0), help=help_text)
    if spec.kind == "integer":
        return int(st.number_input(spec.name, value=int(spec.default or 0), step=1, help=help_text))
    if spec.kind == "flag":
        return st.checkbox(spec.name, value=bool(spec.default), help=help_text)
    if spec.kind == "json":
        import json

        return st.text_area(spec.name, value=json.dumps(spec.default), help=help_text)
    return st.text_input(spec.name, value="" if spec.default is None else str(spec.default), help=help_text)


def answer(st: Any, service: Service, contract: Contract, asked: dict[str, Any]) -> None:
    """Ask ``/predict`` (and ``/explain``) and keep the result for the page's reruns."""
    try:
        answered = service.predict(asked.get("item"), asked.get("upload"))
        why = service.explain(asked.get("item"), asked.get("upload")) if contract.explains else None
    except Refused as exc:
        st.session_state["result"] = None
        st.error(f"The service refused the input: {exc}")
        return
    except ServiceDown as exc:
        st.session_state["result"] = None
        st.error(f"The service is down: {exc}")
        return
    st.session_state["result"] = {
        "answer": answered.answer,
        "request_id": answered.request_id,
        "model_version": answered.model_version,
        "explanation": why,
        "sent": None,
    }


def shown(st: Any, result: dict[str, Any]) -> None:
    what, detail = draw.headline(result["answer"])
    st.subheader(f"Prediction: {what}")
    st.caption(f"{detail} · model version {result['model_version']}")
    why = result["explanation"]
    if not why:
        return
    st.markdown(f"**Why**: {why['method']}; values are the {why['output']}.")
    image = draw.picture(why)
    if image is not None:
        st.image(image, caption="Red: hiding it lowers the answer's probability", width=280)
    if why.get("words"):
        st.markdown(draw.highlighted(why["words"]), unsafe_allow_html=True)
    table = draw.profile(why.get("terms", []))
    if table is not None:
        st.dataframe(table, hide_index=True)
    chart = draw.contributions(why.get("terms", []))
    if len(chart):
        st.altair_chart(bars(chart), width="stretch", height=26 * len(chart) + 40)
    with st.expander("The explanation as the service sent it"):
        st.json({k: v for k, v in why.items() if k not in ("overlay_png", "heatmap")})


def bars(chart: Any) -> Any:
    """Horizontal bars, largest first, red where the term pushes towards the answer."""
    import altair as alt

    sign = alt.condition("datum.contribution > 0", alt.value("#d62828"), alt.value("#2a5bd7"))
    return (
        alt.Chart(chart)
        .mark_bar()
        .encode(
            x=alt.X("contribution:Q"),
            y=alt.Y("term:N", sort=None, title=None, axis=alt.Axis(labelLimit=360, labelOverlap=False)),
            color=sign,
        )
    )


def feedback(st: Any, service: Service, contract: Contract, result: dict[str, Any]) -> None:
    """Right / wrong buttons sending the true outcome to ``/feedback`` (once per answer)."""
    if contract.feedback is None or not result.get("request_id"):
        return
    field, kind = contract.feedback
    st.markdown("**Was it right?**")
    answer_value = draw.answered_outcome(result["answer"], field, kind)
    right, wrong = st.columns(2)
    outcome = None
    with right:
        if kind == "boolean":
            if st.button("Responded"):
                outcome = True
        elif st.button("Right"):
            outcome = answer_value
    with wrong:
        if kind == "boolean":
            if st.button("Did not respond"):
                outcome = False
        else:
            true = (
                st.number_input("The true value", value=float(answer_value or 0.0))
                if kind == "number"
                else st.text_input("The true label", value="")
            )
            if st.button("Wrong: send the true one") and true not in ("", None):
                outcome = true
    if outcome is not None:
        try:
            service.feedback(result["request_id"], field, outcome)
            result["sent"] = outcome
        except (Refused, ServiceDown) as exc:
            st.error(f"Feedback not stored: {exc}")
    if result.get("sent") is not None:
        st.success(f"Feedback stored: {field} = {result['sent']}")
