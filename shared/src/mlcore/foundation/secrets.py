"""The admin token's file: created once, readable by its owner only, shared by every process of a
project (the server's workers, `make rollback`, the demo loop)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def read_token(path: str | Path) -> str | None:
    """The token in ``path``, or None when there is no such file (or it is empty)."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return token or None


def token_file(path: str | Path) -> str:
    """The token in ``path``, generated there first when there is none (mode 0600; two processes
    starting at once end up with the same token: the file is created exclusively)."""
    path = Path(path)
    if (token := read_token(path)) is not None:
        return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return read_token(path) or token_file(path)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token
