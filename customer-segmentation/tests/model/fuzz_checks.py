"""A schemathesis check for this API, loaded by ``schemathesis.toml`` (``hooks``)."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance


@schemathesis.check
def valid_data_accepted_unless_an_item_rule(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis's ``positive_data_acceptance`` (a body the document allows is not refused), except
    a 422 whose every error is an ``item_rule``: a rule JSON Schema cannot state (one across fields,
    or relative to today), which the document's descriptions give instead."""
    if response.status_code == 422:
        try:
            detail = response.json().get("detail") or []
        except ValueError:
            detail = []
        if detail and all(error.get("type") == "item_rule" for error in detail):
            return None
    return positive_data_acceptance(ctx, response, case)
