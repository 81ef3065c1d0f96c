"""Request field types the projects' schemas share: text a model can actually read."""

from __future__ import annotations

import functools
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, GetJsonSchemaHandler, GetPydanticSchema, Strict
from pydantic_core import PydanticCustomError

# Characters that show nothing: whitespace, controls, and format characters (zero-width space and
# joiners, the byte-order mark, soft hyphen, ...).
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp"}


def readable_text(text: str) -> str:
    """``text`` unchanged, or ``ValueError`` saying why no model can read it (the API's 422)."""
    if not any(unicodedata.category(char) not in _INVISIBLE_CATEGORIES for char in text):
        raise ValueError("is empty, or only whitespace or invisible characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid UTF-8 (it holds an unpaired surrogate)") from None
    return text


def rule_error(field: str | None, message: str) -> PydanticCustomError:
    """The error of a rule the OpenAPI document cannot state (one across fields, or relative to
    today), type ``item_rule``: raised by a model validator with the ``field`` at fault (the API
    reports it under the item's own location instead of ``body``), or by a field validator with
    ``field=None``. Schema checks (``tests/model/fuzz_checks.py``) accept it for a schema-valid body."""
    context = {"message": message} if field is None else {"field": field, "message": message}
    return PydanticCustomError("item_rule", "{message}", context)


def whole_number(value: object) -> object:
    """An integral JSON number as an ``int`` (``3.0`` is ``3``: JSON has one number type, and JSON
    Schema's ``integer`` is any number without a fraction); anything else goes on unchanged, for the
    strict ``int`` check to refuse (``3.5``, ``true``, ``"3"``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer field as the OpenAPI document states it: ``3`` or ``3.0``; never ``3.5``, ``true`` or ``"3"``.
WholeNumber = Annotated[int, BeforeValidator(whole_number), Strict()]


def _invisible_ranges() -> str:
    """The characters ``readable_text`` counts as showing nothing, as a regex character-class body."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x110000):
        if unicodedata.category(chr(code)) in _INVISIBLE_CATEGORIES:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))

    def char(code: int) -> str:  # beyond the BMP the character itself (``\U`` is Python-only)
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)

    return "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in ranges)


@functools.cache
def visible_character_pattern() -> str:
    """The OpenAPI ``pattern`` of ``ReadableText``: at least one character that shows something."""
    return f"[^{_invisible_ranges()}]"


def _document_readable_text(schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
    described = handler(schema)
    described["pattern"] = visible_character_pattern()
    return described


# Text a model can read: at least one visible character, valid UTF-8 (the OpenAPI document says so too).
ReadableText = Annotated[
    str, AfterValidator(readable_text), GetPydanticSchema(get_pydantic_json_schema=_document_readable_text)
]
