"""Find the model to serve: ``models:/<name>@champion``, or a local exported copy.

A serving worker never imports MLflow (it would hold ~120 MiB for a one-off download): ``resolve``
runs the download in a child process, ``python -m mlcore.lifecycle.registry <name> <dest>``,
which prints the champion's metadata as JSON. The child gets ``timeout`` seconds and MLflow's HTTP
retries are off in it, so an unreachable tracking server costs seconds, not minutes of retries.

Errors come in two wordings: ``str(exc)`` of ``ModelUnavailable`` is for clients (what is
missing and what to do, no paths, no credentials); ``exc.detail`` is for the server log.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.foundation.io import read_json, write_json
from mlcore.foundation.redact import mask_credentials
from mlcore.lifecycle.aliases import CHAMPION
from mlcore.lifecycle.artifacts import serving_metadata_path

log = logging.getLogger(__name__)
REGISTRY_TIMEOUT_S = 20.0


class ModelUnavailable(RuntimeError):
    """No model to serve from this source: the message is for clients, ``detail`` for the log."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = mask_credentials(detail or message)


class RegistryUnavailable(ModelUnavailable):
    """The registry did not give a champion: unreachable, too slow, or no ``@champion`` alias."""


@dataclass
class ResolvedModel:
    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))


def champion_metadata(model_name: str, alias: str = CHAMPION) -> dict[str, Any]:
    """Name, version, run id, training-data hashes and metrics of ``@champion`` (or ``alias``)."""
    import mlflow

    client = mlflow.MlflowClient()
    mv = client.get_model_version_by_alias(model_name, alias)
    run = client.get_run(mv.run_id) if mv.run_id else None
    tags = run.data.tags if run else {}
    return {
        "model_name": model_name,
        "version": str(mv.version),
        "alias": alias,
        "run_id": mv.run_id,
        "source": mv.source,
        "git_commit": tags.get("git.commit"),
        "training_data": {k[5:-4]: v for k, v in tags.items() if k.startswith("data.") and k.endswith(".md5")},
        "metrics": dict(run.data.metrics) if run else {},
    }


def download_champion(model_name: str, dest: str | Path, alias: str = CHAMPION) -> ResolvedModel:
    """Copy ``@champion`` (or ``alias``) out of the registry into ``dest`` (replaced atomically)."""
    import mlflow

    dest = Path(dest)
    meta = champion_metadata(model_name, alias)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    # mkdtemp makes the folder 0700; an export is read by other users too (an image's non-root
    # user, a mounted volume), so it gets a published folder's mode like the files inside it.
    staging.chmod(0o755)
    try:
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{model_name}@{alias}", dst_path=str(staging))
        write_json(meta, serving_metadata_path(staging))
        old = dest.with_name(f".{dest.name}.old")
        if dest.exists():
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
        staging.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ResolvedModel(dest, meta)


def fetch_champion(
    model_name: str,
    dest: str | Path,
    tracking_uri: str | None = None,
    timeout: float = REGISTRY_TIMEOUT_S,
    alias: str = CHAMPION,
) -> ResolvedModel:
    """``download_champion`` in a child process (the caller stays free of MLflow), given ``timeout`` s."""
    env = dict(os.environ)
    if tracking_uri:
        env |= {"MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_REGISTRY_URI": tracking_uri}
    env.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail fast; the server retries in the background
    env.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(int(timeout / 2), 1)))
    try:
        done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", __name__, model_name, str(dest), alias],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise RegistryUnavailable(
            f"the model registry did not answer within {timeout:.0f} s", f"registry fetch timed out after {timeout} s"
        ) from exc
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        detail = lines[-1] if lines else f"registry fetch exited with {done.returncode}"
        if "RESOURCE_DOES_NOT_EXIST" in detail or "not found" in detail.lower():
            raise RegistryUnavailable(f"the model registry has no {model_name}@{alias}", detail)
        raise RegistryUnavailable("the model registry is unreachable", detail)
    return ResolvedModel(Path(dest), json.loads(done.stdout.strip().splitlines()[-1]))


def load_export(export_dir: str | Path) -> ResolvedModel:
    export_dir = Path(export_dir)
    meta_file = serving_metadata_path(export_dir)
    if not meta_file.exists():
        raise ModelUnavailable(
            "no exported model: run `make train` to train and promote one",
            f"no exported model at {export_dir}: run `make train` to train and promote one",
        )
    return ResolvedModel(export_dir, read_json(meta_file))


def resolve(
    model_name: str,
    export_dir: str | Path,
    cache_dir: str | Path,
    prefer_registry: bool = True,
    tracking_uri: str | None = None,
    timeout: float = REGISTRY_TIMEOUT_S,
) -> ResolvedModel:
    """The registry's champion (fetched by a child process) when reachable, else the local export
    (its metadata then says why: ``registry``)."""
    if not prefer_registry:
        return _served_from(load_export(export_dir), EXPORT)
    try:
        return _served_from(fetch_champion(model_name, cache_dir, tracking_uri, timeout), REGISTRY)
    except RegistryUnavailable as exc:
        log.warning(
            "registry unavailable, using local export",
            extra={"reason": exc.detail[:300], "export_dir": str(export_dir)},
        )
        try:
            resolved = load_export(export_dir)
        except ModelUnavailable as missing:
            raise ModelUnavailable(
                f"no model to serve: {exc}, and there is no local export (run `make train`)",
                f"{exc.detail}; {missing.detail}",
            ) from exc
        return _served_from(resolved, EXPORT, registry=str(exc))


REGISTRY, EXPORT = "registry", "local export"


def _served_from(resolved: ResolvedModel, source: str, **extra: str) -> ResolvedModel:
    resolved.metadata = {**resolved.metadata, "served_from": source, **extra}
    return resolved


def main(argv: list[str] | None = None) -> int:
    """``python -m mlcore.lifecycle.registry <model name> <dest> [alias]``: download ``@champion``
    (or ``alias``) into ``dest`` and print its metadata as one JSON line."""
    from mlcore.lifecycle.tracking import quiet_environment

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m mlcore.lifecycle.registry <model name> <dest folder> [alias]", file=sys.stderr)
        return 2
    quiet_environment()
    try:
        resolved = download_champion(*args)
    except Exception as exc:  # noqa: BLE001 - one line for the parent process
        print(mask_credentials(f"{type(exc).__name__}: {str(exc)[:500]}".replace("\n", " ")), file=sys.stderr)
        return 1
    print(json.dumps(resolved.metadata))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
