"""Domain errors shared by training and serving (no web dependencies)."""

from __future__ import annotations


class InputError(ValueError):
    """Raised by a predictor for input that passes the schema but cannot be scored (answered 422)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.field = where  # the request field at fault, e.g. "items.1.transactions.0.date"
        self.message = message
