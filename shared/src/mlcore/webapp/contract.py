"""What the app needs to know of a service, read from its OpenAPI document: how an item is sent
(a text, a form of fields, or a file upload), a filled-in example, whether it explains, and what
feedback it takes. Pure functions over the document (no HTTP, no Streamlit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEXT, FORM, UPLOAD = "text", "form", "upload"


@dataclass(frozen=True)
class Field:
    """One input of the form: its name, widget kind (number, integer, choice, text, flag, json),
    default (from the schema's example), choices and description."""

    name: str
    kind: str
    default: Any = None
    choices: list[Any] = field(default_factory=list)
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Contract:
    """How to ask the service and what it answers."""

    kind: str  # TEXT, FORM or UPLOAD
    example: dict[str, Any]
    fields: list[Field]
    explains: bool
    feedback: tuple[str, str] | None  # (outcome field, "string" | "number" | "boolean"), None without /feedback
    title: str = ""


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a top-level ``$ref`` followed (``#/components/schemas/...``)."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _variants(document: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = resolve(document, schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    return [resolve(document, option) for option in options] if options else [schema]


def field_of(document: dict[str, Any], name: str, schema: dict[str, Any], default: Any, required: bool) -> Field:
    """The widget for one property: numbers, integers, an enum's choices, text, a flag, else JSON."""
    options = [option for option in _variants(document, schema) if option.get("type") != "null"]
    described = schema.get("description") or next((o.get("description", "") for o in options), "")
    first = options[0] if options else {}
    if "enum" in first:
        return Field(name, "choice", default, list(first["enum"]), described, required)
    kind = {"number": "number", "integer": "integer", "string": "text", "boolean": "flag"}.get(
        first.get("type", ""), "json"
    )
    return Field(name, kind, default, [], described, required)


def read(document: dict[str, Any]) -> Contract:
    """The contract of a service from its ``/openapi.json``."""
    paths = document.get("paths", {})
    body = paths["/predict"]["post"]["requestBody"]["content"]
    single = body["application/json"]["schema"]["oneOf"][0]
    item = resolve(document, single)
    examples = item.get("examples") or [{}]
    example = dict(examples[0])
    required = set(item.get("required", []))
    properties = item.get("properties", {})
    if "multipart/form-data" in body:
        kind = UPLOAD
    elif set(properties) == {"text"}:
        kind = TEXT
    else:
        kind = FORM
    fields = [
        field_of(document, name, properties[name], example.get(name), name in required)
        for name in properties
        if name in example or name in required
    ]
    return Contract(
        kind=kind,
        example=example,
        fields=fields,
        explains="/explain" in paths,
        feedback=_feedback(document),
        title=document.get("info", {}).get("title", ""),
    )


def _feedback(document: dict[str, Any]) -> tuple[str, str] | None:
    operation = document.get("paths", {}).get("/feedback", {}).get("post")
    if operation is None:
        return None
    schema = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
    for name, prop in schema.get("properties", {}).items():
        if name in ("request_id", "item"):
            continue
        options = [o for o in _variants(document, prop) if o.get("type") != "null"]
        return name, (options[0].get("type", "string") if options else "string")
    return None


def body_of(fields: list[Field], values: dict[str, Any]) -> dict[str, Any]:
    """The JSON item from the form's values: empty optional fields left out, JSON fields parsed
    (``ValueError`` naming the field when one is not JSON)."""
    import json

    out: dict[str, Any] = {}
    for spec in fields:
        value = values.get(spec.name)
        if value is None or (isinstance(value, str) and not value.strip() and spec.kind != "text"):
            continue
        if spec.kind == "json":
            try:
                value = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError as exc:
                raise ValueError(f"{spec.name}: not JSON ({exc.msg} at character {exc.pos})") from None
        out[spec.name] = value
    return out
