"""Who holds ``@champion`` and ``@challenger``, how it got there, and the way back.

The history lives in the registry itself, nowhere else: every move of ``@champion`` tags the
version it lands on (``champion.previous``, ``champion.via``, ``champion.by``, ``champion.why``,
``champion.at``) and appends one line to the registered model's audit trail (the tag
``champion.audit``, the newest ``AUDIT_KEEP`` moves as JSON). ``rollback`` follows
``champion.previous``; versions promoted before that tag existed fall back to the newest older
version whose promotion decision was ``promoted``.

Both commands are idempotent: a second ``rollback`` does not roll back further (``to`` does), a
second ``promote-challenger`` finds no ``@challenger`` and says the promotion already happened.
What cannot be done is refused with ``Refused`` (its message says what to do instead).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from mlcore.lifecycle.aliases import CHALLENGER, CHAMPION

AUDIT_TAG = "champion.audit"
AUDIT_KEEP = 20
GUARD_RAIL_TAG = "rollout.guard_rail"


class Refused(RuntimeError):
    """The move cannot be made; the message says why and what would work."""


@dataclass
class Move:
    """One move of ``@champion`` (or, for ``via="challenger"``, of ``@challenger``)."""

    model_name: str
    version: str | None  # where the alias is now (None: nothing changed)
    previous: str | None
    via: str  # pipeline | promote-challenger | rollback | challenger
    by: str
    why: str
    at: str
    changed: bool = True
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def actor() -> str:
    """Who is moving the alias: ``ML_ACTOR`` when set (CI, a bot), else user@host."""
    return os.environ.get("ML_ACTOR") or f"{getpass.getuser()}@{socket.gethostname()}"


def _client() -> Any:
    import mlflow

    return mlflow.MlflowClient()


def alias_version(model_name: str, alias: str, client: Any = None) -> Any | None:
    """The model version holding ``alias``, or None (also when the model is not registered)."""
    from mlflow.exceptions import MlflowException

    client = client or _client()
    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None


def audit_trail(model_name: str, client: Any = None) -> list[dict[str, Any]]:
    """The newest ``AUDIT_KEEP`` moves of ``@champion``, oldest first."""
    client = client or _client()
    try:
        tags = client.get_registered_model(model_name).tags
    except Exception:  # noqa: BLE001 - not registered yet
        return []
    try:
        return list(json.loads(tags.get(AUDIT_TAG, "[]")))
    except ValueError:
        return []


def move_champion(
    model_name: str, version: str, *, via: str, why: str, previous: str | None = None, client: Any = None
) -> Move:
    """Point ``@champion`` at ``version`` and record the move on the version and in the audit trail."""
    client = client or _client()
    if previous is None:
        current = alias_version(model_name, CHAMPION, client)
        previous = str(current.version) if current is not None else None
    move = Move(model_name, str(version), previous, via, actor(), why, datetime.now(UTC).isoformat(timespec="seconds"))
    client.set_registered_model_alias(model_name, CHAMPION, move.version)
    for key in ("previous", "via", "by", "why", "at"):
        client.set_model_version_tag(model_name, move.version, f"champion.{key}", str(getattr(move, key) or ""))
    trail = [*audit_trail(model_name, client), {k: v for k, v in move.to_dict().items() if k in _AUDITED}]
    client.set_registered_model_tag(model_name, AUDIT_TAG, json.dumps(trail[-AUDIT_KEEP:]))
    return move


_AUDITED = ("version", "previous", "via", "by", "why", "at")


def _previous_of(model_name: str, current: Any, client: Any) -> str | None:
    """The champion before ``current``: its ``champion.previous`` tag, else the newest older
    version the pipeline promoted (registries from before the tag existed)."""
    tagged = current.tags.get("champion.previous")
    if tagged is not None:
        return tagged or None
    older = [
        mv
        for mv in client.search_model_versions(f"name='{model_name}'")
        if int(mv.version) < int(current.version) and mv.tags.get("promotion.decision") == "promoted"
    ]
    return str(max(older, key=lambda mv: int(mv.version)).version) if older else None


def rollback(model_name: str, why: str, to: str | None = None, client: Any = None) -> Move:
    """Move ``@champion`` back to the champion before it (or to version ``to``)."""
    client = client or _client()
    current = alias_version(model_name, CHAMPION, client)
    if current is None:
        raise Refused(f"nothing to roll back: {model_name} has no @champion (run `make train`)")
    now = str(current.version)
    if to is None:
        if current.tags.get("champion.via") == "rollback":
            came_from = current.tags.get("champion.previous") or "?"
            return _unchanged(
                model_name,
                now,
                "rollback",
                f"already rolled back: @champion is v{now} since a rollback from v{came_from} "
                f"({current.tags.get('champion.at', '?')}, by {current.tags.get('champion.by', '?')}); "
                "to go further back give the version: `make rollback TO=<version>`",
            )
        to = _previous_of(model_name, current, client)
        if to is None:
            raise Refused(f"nothing to roll back to: v{now} is the first champion of {model_name}")
    to = str(to).removeprefix("v")
    if to == now:
        return _unchanged(model_name, now, "rollback", f"v{now} already holds @champion: nothing to do")
    target = _version(model_name, to, client)
    if target is None:
        raise Refused(f"cannot roll back to v{to}: {model_name} has no such version (deleted?)")
    return move_champion(model_name, to, via="rollback", why=why, previous=now, client=client)


def promote_challenger(model_name: str, why: str, client: Any = None) -> Move:
    """Move ``@champion`` to the ``@challenger`` version and remove ``@challenger``."""
    client = client or _client()
    challenger = alias_version(model_name, CHALLENGER, client)
    current = alias_version(model_name, CHAMPION, client)
    if challenger is None:
        if current is not None and current.tags.get("champion.via") == "promote-challenger":
            return _unchanged(
                model_name,
                str(current.version),
                "promote-challenger",
                f"already promoted: v{current.version} became @champion from @challenger "
                f"({current.tags.get('champion.at', '?')}); there is no @challenger now",
            )
        raise Refused(
            f"nothing to promote: {model_name} has no @challenger "
            "(`make retrain-on-drift` registers one, or `make challenger VERSION=<n>`)"
        )
    move = move_champion(model_name, str(challenger.version), via="promote-challenger", why=why, client=client)
    client.delete_registered_model_alias(model_name, CHALLENGER)
    return move


def set_challenger(model_name: str, version: str, why: str, client: Any = None) -> Move:
    """Give ``version`` the alias ``@challenger`` (refused for the champion itself)."""
    client = client or _client()
    version = str(version).removeprefix("v")
    if _version(model_name, version, client) is None:
        raise Refused(f"{model_name} has no version {version}")
    current = alias_version(model_name, CHAMPION, client)
    if current is not None and str(current.version) == version:
        raise Refused(f"v{version} is @champion: a challenger must be another version")
    before = alias_version(model_name, CHALLENGER, client)
    client.set_registered_model_alias(model_name, CHALLENGER, version)
    client.set_model_version_tag(model_name, version, "challenger.why", why)
    return Move(
        model_name,
        version,
        str(before.version) if before is not None else None,
        "challenger",
        actor(),
        why,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )


def tag_version(model_name: str, version: str, tags: Mapping[str, str], client: Any = None) -> None:
    client = client or _client()
    for key, value in tags.items():
        client.set_model_version_tag(model_name, str(version), key, str(value)[:5000])


def _version(model_name: str, version: str, client: Any) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(model_name, version)
    except MlflowException:
        return None


def _unchanged(model_name: str, version: str, via: str, message: str) -> Move:
    return Move(
        model_name, version, None, via, actor(), "", datetime.now(UTC).isoformat(timespec="seconds"), False, message
    )


def status(model_name: str, client: Any = None) -> dict[str, Any]:
    """Both aliases and the audit trail, for ``make rollout-status`` and the tests."""
    client = client or _client()
    out: dict[str, Any] = {"model_name": model_name}
    for alias in (CHAMPION, CHALLENGER):
        mv = alias_version(model_name, alias, client)
        out[alias] = (
            None
            if mv is None
            else {
                "version": str(mv.version),
                **{k: v for k, v in mv.tags.items() if k.startswith(("champion.", "rollout.", "challenger."))},
            }
        )
    out["audit"] = audit_trail(model_name, client)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m mlcore.lifecycle.champion tag <model> <version> key=value ...``: how a server
    (which never imports MLflow itself) tags a model version, e.g. when a guard rail trips."""
    import sys

    from mlcore.foundation.redact import mask_credentials
    from mlcore.lifecycle.tracking import quiet_environment

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 4 or args[0] != "tag" or not all("=" in pair for pair in args[3:]):
        print("usage: python -m mlcore.lifecycle.champion tag <model name> <version> key=value ...", file=sys.stderr)
        return 2
    quiet_environment()
    try:
        tag_version(args[1], args[2], dict(pair.split("=", 1) for pair in args[3:]))
    except Exception as exc:  # noqa: BLE001 - one line for the server's log
        print(mask_credentials(f"{type(exc).__name__}: {exc}"[:500]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
