"""Errors every layer may raise: the lowest home, so the model folder's loaders (lifecycle) and the
served predictors (serving) share one type without importing each other."""

from __future__ import annotations


class InputError(ValueError):
    """Raised by a predictor for input that passes the schema but cannot be scored (answered 422
    with the error type ``item_rule``, a rule the API's document cannot state; or ``status``: 415
    for a file of a type the model cannot read)."""

    def __init__(self, where: str, message: str, status: int = 422) -> None:
        super().__init__(f"{where}: {message}")
        self.field = where  # the request field at fault, e.g. "items.1.transactions.0.date"
        self.message = message
        self.status = status
