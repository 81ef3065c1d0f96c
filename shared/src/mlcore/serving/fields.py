"""Request field types the projects' schemas share: text a model can actually read."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator
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


ReadableText = Annotated[str, AfterValidator(readable_text)]


def rule_error(field: str, message: str) -> PydanticCustomError:
    """The error a rule over a whole item raises (a model validator) to name the field at fault:
    the API reports ``field`` (under the item's own location) instead of ``body``."""
    return PydanticCustomError("item_rule", "{message}", {"field": field, "message": message})
