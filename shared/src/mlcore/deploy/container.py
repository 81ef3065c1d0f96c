"""Run a serving image on loopback until it is ready; always remove it. For tests and benchmarks.

The container shares the host's network namespace and listens on 127.0.0.1:``port`` (the image's
``PORT``), so nothing talks to a container's private address and two containers never collide.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from mlcore.deploy.engine import Engine
from mlcore.foundation.waiting import wait_until


@dataclass
class Container:
    engine: Engine
    name: str
    base: str  # http://127.0.0.1:<port>

    def state(self) -> dict[str, object]:
        return dict(self.engine.inspect(self.name, "container")["State"])

    def logs(self) -> str:
        done = self.engine.run("logs", self.name, check=False)
        return (done.stdout + done.stderr)[-4000:]

    def exec(self, *args: str) -> tuple[int, str]:
        done = self.engine.run("exec", self.name, *args, check=False)
        return done.returncode, (done.stdout + done.stderr).strip()


def run_args(
    engine: Engine,
    ref: str,
    name: str,
    port: int | None,
    *,
    network: str = "host",
    read_only: bool = True,
    secrets: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
) -> list[str]:
    """``run -d`` arguments: read-only root, the image's own volume for logs, ``--secret`` per entry
    (file secrets, at ``/run/secrets/<target>``)."""
    cmd = ["run", "-d", "--name", name, f"--network={network}", *engine.run_flags()]
    cmd += ["--read-only"] if read_only else []
    cmd += [a for secret in secrets for a in ("--secret", secret)]
    # podman 4.3 mounts a file secret before /run's tmpfs, onto the read-only root: give it a tmpfs
    cmd += ["--tmpfs", "/run/secrets"] if secrets and read_only and engine.name == "podman" else []
    environment = {**({"PORT": str(port)} if port else {}), **(env or {})}
    cmd += [a for key, value in environment.items() for a in ("-e", f"{key}={value}")]
    return [*cmd, ref, *args]


@contextmanager
def running_container(
    engine: Engine,
    ref: str,
    port: int,
    *,
    timeout: float = 180.0,
    ready_path: str = "/ready",
    **options: object,
) -> Iterator[Container]:
    """Start ``ref`` listening on 127.0.0.1:``port``, wait for ``ready_path`` to answer 200, yield it;
    remove it (and its anonymous volumes) in any case."""
    name = f"mlsuite-test-{uuid.uuid4().hex[:10]}"
    engine.run(*run_args(engine, ref, name, port, **options))  # type: ignore[arg-type]
    container = Container(engine, name, f"http://127.0.0.1:{port}")

    def ready() -> bool:
        if container.state().get("Running") is not True:
            raise RuntimeError(f"container {name} stopped: {container.state()} {container.logs()}")
        return httpx.get(f"{container.base}{ready_path}", timeout=5).status_code == 200

    try:
        wait_until(
            ready,
            f"the container's {ready_path} to answer 200",
            timeout=timeout,
            every=0.25,
            seen=container.logs,
            retry_on=(httpx.TransportError,),
        )
        yield container
    finally:
        engine.run("rm", "-f", "-v", name, check=False)
