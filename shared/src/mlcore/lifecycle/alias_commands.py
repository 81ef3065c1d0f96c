"""``make rollback``, ``make promote-challenger``, ``make challenger``, ``make aliases``: the alias
moves of ``mlcore.lifecycle.champion`` as commands of a project.

After a move of ``@champion`` the local export (``paths.export``) is refreshed and a server
running on ``serve.host:serve.port`` (or ``SERVE_URL``) is asked to reload, so it serves the new
champion without a restart; requests in flight finish on the model they started with.
Exit codes: 0 done (or nothing to do), 2 refused (the message says what would work).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from mlcore.foundation.progress import say
from mlcore.lifecycle import champion, registry, tracking


def server_url(cfg: DictConfig) -> str:
    return os.environ.get("SERVE_URL") or f"http://{cfg.serve.host}:{cfg.serve.port}"


def admin_token(cfg: DictConfig, root: Path) -> str | None:
    """What the running server's admin routes take: ``SERVE_ADMIN_TOKEN``, ``serve.admin_token``, or
    the token in ``serve.admin_token_file`` (the one `make serve` generated)."""
    from mlcore.foundation.secrets import read_token

    given = os.environ.get("SERVE_ADMIN_TOKEN") or cfg.serve.get("admin_token")
    if given or not cfg.serve.get("admin_token_file"):
        return given
    return read_token(Path(root) / cfg.serve.admin_token_file)


def admin_call(
    cfg: DictConfig, path: str, body: dict[str, Any] | None = None, timeout: float = 30.0, root: Path | None = None
) -> dict[str, Any] | None:
    """POST ``path`` to the running server (with its admin token, ``admin_token``); None when no
    server answers there."""
    from mlcore.foundation.paths import project_root

    token = admin_token(cfg, root if root is not None else project_root())
    request = urllib.request.Request(  # noqa: S310 - http on the configured host only
        server_url(cfg) + path,
        data=json.dumps(body or {}).encode(),
        headers={"content-type": "application/json", **({"x-admin-token": token} if token else {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "error": json.loads(exc.read() or b"{}").get("error", exc.reason)}
    except (urllib.error.URLError, OSError):
        return None


def publish(cfg: DictConfig, root: Path) -> None:
    """Refresh the local export from ``@champion`` and make a running server reload it."""
    registry.download_champion(cfg.project.model_name, Path(root) / cfg.paths.export)
    answer = admin_call(cfg, "/admin/reload", root=root)
    if answer is None:
        say("rollout", f"no server answers at {server_url(cfg)}: it loads the new @champion when it starts")
    elif "model_version" in answer:
        say(
            "rollout",
            f"server at {server_url(cfg)} reloaded: v{answer['previous_version']} -> v{answer['model_version']}",
        )
    else:
        say("rollout", f"server at {server_url(cfg)} did not reload: {answer.get('error')}")


def run(
    cfg: DictConfig, root: Path, command: str, why: str = "", to: str | None = None, version: str | None = None
) -> int:
    tracking.configure(root, cfg.project.experiment)
    name = cfg.project.model_name
    try:
        if command == "rollback":
            move = champion.rollback(name, why or "manual rollback", to=to)
        elif command == "promote-challenger":
            move = champion.promote_challenger(name, why or "the online test chose the challenger")
        elif command == "challenger":
            if not version:
                raise champion.Refused("give the version: `make challenger VERSION=<n>`")
            move = champion.set_challenger(name, version, why or "set by hand")
        elif command == "aliases":
            print(json.dumps(champion.status(name), indent=2))
            return 0
        else:
            raise champion.Refused(f"unknown command {command!r}")
    except champion.Refused as exc:
        say("rollout", f"refused: {exc}")
        return 2
    if not move.changed:
        say("rollout", move.message)
        return 0
    if move.via == "challenger":
        say("rollout", f"{name}@challenger -> v{move.version} (was {_v(move.previous)})")
        return 0
    say("rollout", f"{name}@champion: {_v(move.previous)} -> v{move.version} by {move.by} ({move.via}: {move.why})")
    publish(cfg, root)
    return 0


def _v(version: str | None) -> str:
    return f"v{version}" if version else "none"
