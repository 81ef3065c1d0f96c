"""The container engine and the flags it needs on this kind of machine.

podman is preferred (rootful, no daemon), docker otherwise; ``CONTAINER_ENGINE`` picks one. With
podman, runc is used when it is installed (crun refuses cgroups in hybrid mode), every run and build
gets explicit ulimits (podman cannot raise them from the defaults there), a build keeps
``HEALTHCHECK`` (``--format docker``) and sees the host's CA bundle (pip reaches the registry);
commands that take no such flags (``kube play``) read them from a ``containers.conf`` of ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNC = Path("/usr/sbin/runc")
CA_CERTS = Path("/etc/ssl/certs")
NOFILE_WANTED = 65536


class EngineMissing(RuntimeError):
    """No container engine on this machine."""


@dataclass(frozen=True)
class Engine:
    name: str  # podman | docker
    argv: tuple[str, ...]  # the command and its global flags
    conf: Path | None = None  # podman: a containers.conf for the commands that take no such flags

    def cmd(self, *args: str) -> list[str]:
        return [*self.argv, *args]

    def environ(self) -> dict[str, str]:
        return {**os.environ, **({"CONTAINERS_CONF": str(self.conf)} if self.conf else {})}

    def run(self, *args: str, check: bool = True, timeout: float | None = 600) -> subprocess.CompletedProcess[str]:
        """Run an engine command; a failure raises with its stderr."""
        done = subprocess.run(  # noqa: S603
            self.cmd(*args), capture_output=True, text=True, check=False, timeout=timeout, env=self.environ()
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(self.cmd(*args[:3]))} ... exited {done.returncode}: {done.stderr.strip()[-2000:]}"
            )
        return done

    def limits(self) -> list[str]:
        """``--ulimit`` flags: as many open files as the host allows (up to 65536), 4096 processes."""
        if self.name != "podman":
            return []
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = NOFILE_WANTED if hard == resource.RLIM_INFINITY else min(hard, NOFILE_WANTED)
        return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", "nproc=4096:4096"]

    def build_flags(self, host_certs: bool = True) -> list[str]:
        """Flags for ``build``; ``host_certs``: the host's CA bundle mounted read-only (pip reaches
        the registry through it), which a build that installs Debian's ssl-cert cannot take: its
        set-up writes a certificate into that folder."""
        if self.name != "podman":
            return []
        certs = ["-v", f"{CA_CERTS}:{CA_CERTS}:ro"] if host_certs and CA_CERTS.is_dir() else []
        return ["--format", "docker", *self.limits(), *certs]

    def run_flags(self) -> list[str]:
        """Flags for ``run``: the limits; with podman outside systemd, no health-check timer (it needs
        systemd; ``healthcheck run`` still runs the image's check on demand)."""
        if self.name != "podman":
            return []
        timers = [] if Path("/run/systemd/private").exists() else ["--health-interval", "disable"]
        return [*self.limits(), *timers]

    def image_exists(self, ref: str) -> bool:
        return self.run("image", "exists" if self.name == "podman" else "inspect", ref, check=False).returncode == 0

    def healthy(self, container: str) -> bool:
        """The image's HEALTHCHECK passes: podman runs it now; docker reports its last scheduled run."""
        if self.name == "podman":
            return self.run("healthcheck", "run", container, check=False).returncode == 0
        state = self.inspect(container, "container")["State"]
        return (state.get("Health") or {}).get("Status") == "healthy"

    def inspect(self, ref: str, kind: str = "image") -> dict[str, Any]:
        return json.loads(self.run(kind, "inspect", ref).stdout)[0]


def podman_conf(runtime: Path | None) -> Path:
    """A containers.conf holding the limits (and runtime) this module passes as flags, for the
    commands that take none: ``kube play`` starts pods whose containers, the infra one included,
    fail to start without explicit ulimits here. Written once, in the temporary folder."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = NOFILE_WANTED if hard == resource.RLIM_INFINITY else min(hard, NOFILE_WANTED)
    text = f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc=4096:4096"]\n'
    text += f'[engine]\nruntime = "{runtime}"\n' if runtime else ""
    path = Path(tempfile.gettempdir()) / f"mlsuite-containers-{hashlib.sha256(text.encode()).hexdigest()[:12]}.conf"
    if not path.exists():
        staged = path.with_suffix(f".{os.getpid()}.tmp")
        staged.write_text(text, encoding="utf-8")
        staged.replace(path)
    return path


def find_engine(environ: dict[str, str] | None = None) -> Engine | None:
    """podman (with runc when installed), else docker; ``CONTAINER_ENGINE`` chooses; None when neither."""
    env = os.environ if environ is None else environ
    wanted: Sequence[str] = [env["CONTAINER_ENGINE"]] if env.get("CONTAINER_ENGINE") else ("podman", "docker")
    for name in wanted:
        if shutil.which(name) is None:
            continue
        if name == "podman":
            runc = RUNC if RUNC.exists() else None
            return Engine(name, (name, "--runtime", str(runc)) if runc else (name,), podman_conf(runc))
        return Engine(name, (name,))
    return None


def require_engine() -> Engine:
    engine = find_engine()
    if engine is None:
        raise EngineMissing(
            "no container engine: install podman (Debian: apt-get install podman runc) or docker, "
            "or name one with CONTAINER_ENGINE"
        )
    return engine
