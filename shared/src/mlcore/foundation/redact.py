"""Credentials stay in the process: the password of every URI the suite prints is masked.

A tracking URI such as ``http://user:secret@host`` or ``postgresql://user:secret@host/db`` is
shown as ``http://user:***@host``: in logs (``mlcore.foundation.logs``), stage lines, error
messages, HTTP answers and what the MLflow UI command prints.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/?#@\s\"']*):(?P<password>[^@/?#\s\"']+)@")
MASK = "***"


def mask_credentials(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***``."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
