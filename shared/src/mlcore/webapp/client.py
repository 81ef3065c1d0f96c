"""The app's only way to the model: the service's HTTP API (``/openapi.json``, ``/predict``,
``/explain``, ``/feedback``), with its refusals and outages turned into messages a person can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from mlcore.webapp.contract import Contract, read


class ServiceDown(Exception):
    """The service did not answer (not running, wrong address, timed out) or failed (5xx)."""


class Refused(Exception):
    """The service refused the request (4xx): ``str()`` names the field and the reason."""

    def __init__(self, status: int, detail: Any) -> None:
        self.status = status
        super().__init__(f"{status}: {describe(detail)}")


def describe(detail: Any) -> str:
    """A refusal as one line: the service's own ``error`` line, or each error's field and message."""
    if isinstance(detail, list):
        parts = []
        for error in detail:
            if isinstance(error, dict):
                where = error.get("field") or ".".join(str(p) for p in error.get("loc", []) if p != "body")
                parts.append(f"{where}: {error.get('msg', error)}" if where else str(error.get("msg", error)))
            else:
                parts.append(str(error))
        return "; ".join(parts)
    return str(detail)


@dataclass
class Answered:
    """An answer: the item's answer, its request id (for feedback) and the model version."""

    answer: dict[str, Any]
    request_id: str | None
    model_version: str | None


@dataclass
class Service:
    url: str
    timeout: float = 30.0

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = httpx.request(method, self.url.rstrip("/") + path, timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceDown(
                f"the service at {self.url} does not answer ({type(exc).__name__}): is it running?"
            ) from None
        if response.status_code >= 500:
            raise ServiceDown(f"the service at {self.url} failed: {response.status_code} {response.text[:200]}")
        if response.status_code >= 400:
            try:
                body = response.json()
                detail = body.get("error") or body.get("detail", response.text)
            except ValueError:
                detail = response.text
            raise Refused(response.status_code, detail)
        return response

    def contract(self) -> Contract:
        return read(self._call("GET", "/openapi.json").json())

    def _ask(self, path: str, item: dict[str, Any] | None, upload: tuple[str, bytes] | None) -> dict[str, Any]:
        if upload is not None:
            return self._call("POST", path, files={"file": upload}).json()
        return self._call("POST", path, json=item).json()

    def predict(self, item: dict[str, Any] | None = None, upload: tuple[str, bytes] | None = None) -> Answered:
        body = self._ask("/predict", item, upload)
        answer = body["predictions"][0] if "predictions" in body else body
        answer = {k: v for k, v in answer.items() if k not in ("request_id", "model_version")}
        return Answered(answer, body.get("request_id"), body.get("model_version"))

    def explain(self, item: dict[str, Any] | None = None, upload: tuple[str, bytes] | None = None) -> dict[str, Any]:
        return self._ask("/explain", item, upload).get("explanation", {})

    def feedback(self, request_id: str, outcome: str, value: Any) -> dict[str, Any]:
        return self._call("POST", "/feedback", json={"request_id": request_id, "item": 0, outcome: value}).json()
