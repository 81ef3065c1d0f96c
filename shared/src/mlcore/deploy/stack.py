"""``make stack-up`` / ``make stack-down``: the team stack of ``deploy/compose.yaml``.

``python -m mlcore.deploy.stack up|down|status|rollout|undo [--project NAME] ...``

PostgreSQL, the MLflow server on it, the five services and Prometheus, started from the one compose
file that Docker users run with ``docker compose``: with podman the suite drives it through
podman-compose (PyPI), so there is no second description of the stack to keep in step (``podman
kube play`` would need one, and Docker cannot read it). ``up``:

1. builds the missing infrastructure images (PostgreSQL and Prometheus from Debian's packages,
   the MLflow server) on the suite's Debian base; the services' images come from ``make image``;
2. writes the secrets (database password, admin token) into a 0700 folder, once;
3. starts PostgreSQL and MLflow, waits for the server, and registers each service image's own
   champion through it when the registry has no ``@champion`` for that model yet;
4. starts the services (``serve.prefer_registry=true``: they serve the registry's champion) and
   Prometheus, and waits for every ``/ready``.

``rollout SERVICE TAG`` recreates one service from another image tag (the local
``kubectl set image``); ``undo SERVICE`` goes back to the tag before (``kubectl rollout undo``).
The tags in use are kept in the state folder, so a later ``up`` keeps them.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mlcore.deploy.base import ensure_base
from mlcore.deploy.engine import Engine, require_engine
from mlcore.foundation.progress import say, step
from mlcore.foundation.waiting import WaitTimeout, wait_until

SERVICES = ("spam-classifier", "housing-price", "customer-segmentation", "image-classifier", "sentiment-analyzer")
INFRA = {  # service -> (image, build folder under deploy/, whether its build pip-installs: the host's CA bundle)
    "postgres": ("localhost/mlsuite/postgres:15", "postgres", False),
    "mlflow": ("localhost/mlsuite/mlflow:3.17.2", "mlflow", True),
    "prometheus": ("localhost/mlsuite/prometheus:latest", "prometheus", False),
}
DEFAULT_PORTS = {"mlflow": 5500, "prometheus": 9090} | {s: 8001 + i for i, s in enumerate(SERVICES)}
SERVICE_UID = 10001  # the user the services and the MLflow server run as (their Dockerfiles)
READY_TIMEOUT_S = 240.0


class StackError(RuntimeError):
    """The stack cannot start as asked; the message says what to do."""


def env_name(service: str, what: str) -> str:
    return f"STACK_{service.upper().replace('-', '_')}_{what}"


@dataclass
class Stack:
    """One running copy of the stack: its compose project name, ports, state folder and tags."""

    engine: Engine
    compose_file: Path
    project: str = "mlsuite"
    state: Path | None = None  # secrets and tags; default deploy/.stack
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    tag: str = "latest"

    @property
    def state_dir(self) -> Path:
        return self.state or self.compose_file.parent / ".stack"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    # -- compose ------------------------------------------------------------------------------
    def tags(self) -> dict[str, str]:
        file = self.state_dir / "tags.json"
        history = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
        return {service: tags[-1] for service, tags in history.items() if tags}

    def environ(self) -> dict[str, str]:
        env = {**self.engine.environ(), "STACK_SECRETS": str(self.state_dir), "STACK_TAG": self.tag}
        env |= {"STACK_MLFLOW_PORT": str(self.ports["mlflow"]), "STACK_PROMETHEUS_PORT": str(self.ports["prometheus"])}
        env |= {env_name(s, "PORT"): str(self.ports[s]) for s in SERVICES}
        env |= {env_name(s, "TAG"): tag for s, tag in self.tags().items()}
        return env

    def compose_cmd(self, *args: str) -> list[str]:
        if self.engine.name == "podman":
            # podman-compose passes these to every `podman run`: the limits and, outside systemd,
            # no health-check timer (the runtime and default ulimits come from CONTAINERS_CONF)
            run_args = " ".join(self.engine.run_flags())
            base = [sys.executable, "-m", "podman_compose", f"--podman-run-args={run_args}"]
        else:
            base = ["docker", "compose"]
        return [*base, "-p", self.project, "-f", str(self.compose_file), *args]

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # noqa: S603 - fixed programs, arguments built here
            self.compose_cmd(*args), capture_output=True, text=True, env=self.environ(), timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise StackError(f"compose {' '.join(args)} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        return done

    def container(self, service: str) -> str:
        """The id of the service's container ('' when there is none); both compose tools label them."""
        done = self.engine.run(
            "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={self.project}",
            "--filter", f"label=com.docker.compose.service={service}", check=False,
        )  # fmt: skip
        return done.stdout.split()[0] if done.stdout.split() else ""

    # -- building blocks ----------------------------------------------------------------------
    def build(self) -> None:
        """The infrastructure images when missing; refuse when a service image is missing."""
        base = ensure_base(self.engine) if self.engine.name == "podman" else None
        for service, (ref, folder, pip) in INFRA.items():
            if self.engine.image_exists(ref):
                continue
            with step("stack", f"building {ref} (deploy/{folder})"):
                args = ["build", *self.engine.build_flags(host_certs=pip), "-t", ref]
                args += ["--build-arg", f"BASE={base}"] if base else []
                done = self.engine.run(*args, str(self.compose_file.parent / folder), check=False, timeout=1200)
                if done.returncode != 0:
                    output = (done.stdout + done.stderr).strip()
                    raise StackError(f"building {ref} for {service} failed (exit {done.returncode}): {output[-3000:]}")
        tags = self.tags()
        for service in SERVICES:
            ref = f"localhost/{service}:{tags.get(service, self.tag)}"
            if not self.engine.image_exists(ref):
                self.build_service(service, ref)

    def build_service(self, service: str, ref: str) -> None:
        """``make image`` for a project of the suite whose image is missing (its exported champion)."""
        from mlcore.deploy.image import build
        from mlcore.foundation.config import load_params

        project = self.compose_file.parents[1] / service
        export = project / "models" / "champion" / "serving_metadata.json"
        if not ref.endswith(":latest") or not export.exists():
            raise StackError(f"no image {ref}: build it with `make image` (after `make demo`)")
        with step("stack", f"building {ref} (make image in {service}/)"):
            build(project, load_params(project / "params.yaml"), engine=self.engine)

    def write_secrets(self) -> None:
        """The database password and the admin token, generated once, readable by the services' user."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)  # the files inside are readable by the containers' user only
        for name in ("db-password", "admin-token"):
            file = self.state_dir / name
            if not file.exists():
                file.write_text(secrets.token_urlsafe(24), encoding="utf-8")
            if os.geteuid() == 0:
                os.chown(file, SERVICE_UID, SERVICE_UID)
                file.chmod(0o400)
            else:  # compose mounts the file as it is: readable inside, the 0700 folder guards it outside
                file.chmod(0o444)

    def admin_token(self) -> str:
        return (self.state_dir / "admin-token").read_text(encoding="utf-8").strip()

    def check_ports(self, services: list[str]) -> None:
        for service in services:
            if self.container(service):
                continue  # ours already: compose leaves it running
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.ports[service])) == 0:
                    variable = "STACK_MLFLOW_PORT" if service == "mlflow" else env_name(service, "PORT")
                    raise StackError(
                        f"port {self.ports[service]} ({service}) is taken: stop what listens there "
                        f"(`make team-down`?) or set {variable}"
                    )

    def wait_ready(
        self, service: str, path: str, timeout: float = READY_TIMEOUT_S, accept: tuple[int, ...] = (200,)
    ) -> dict[str, Any]:
        """Poll ``path`` until it answers with a status in ``accept``; that answer's JSON body."""
        seen: dict[str, Any] = {}

        def ready() -> bool:
            answer = httpx.get(f"{self.url(service)}{path}", timeout=5)
            seen["last"] = f"{answer.status_code} {answer.text[:200]}"
            if answer.status_code in accept:
                seen["body"] = answer.json() if "json" in answer.headers.get("content-type", "") else {}
                return True
            return False

        wait_until(
            ready, f"{service} to answer {path} on {self.url(service)}", timeout=timeout, every=0.5,
            seen=lambda: seen, retry_on=(httpx.HTTPError,),
        )  # fmt: skip
        return dict(seen["body"])

    def seed(self) -> dict[str, str]:
        """Each service image's champion registered through the MLflow server where the registry has
        no ``@champion`` for it yet: {service: version registered}."""
        registered = {}
        tags = self.tags()
        for service in SERVICES:
            ref = f"localhost/{service}:{tags.get(service, self.tag)}"
            with tempfile.TemporaryDirectory() as tmp:
                export = copy_champion_out(self.engine, ref, Path(tmp))
                name = json.loads((export / "serving_metadata.json").read_text(encoding="utf-8"))["model_name"]
                if champion_version(self.url("mlflow"), name) is not None:
                    continue
                with step("stack", f"registering {ref}'s champion as {name}@champion"):
                    registered[service] = register_export(export, self.url("mlflow"), why=f"stack seed from {ref}")
        return registered

    # -- commands ------------------------------------------------------------------------------
    def up(self) -> dict[str, Any]:
        """Everything started and every service ready: {service: its /ready answer}."""
        self.build()
        self.write_secrets()
        self.check_ports(["mlflow", "prometheus", *SERVICES])
        with step("stack", "starting PostgreSQL and the MLflow server"):
            self.compose("up", "-d", "postgres", "mlflow")
            self.wait_ready("mlflow", "/health")
        self.seed()
        with step("stack", "starting the five services and Prometheus"):
            self.compose("up", "-d")
            answers = {service: self.wait_ready(service, "/ready") for service in SERVICES}
            self.wait_ready("prometheus", "/-/ready")
        return answers

    def down(self, volumes: bool = False) -> None:
        self.compose("down", *(["-v"] if volumes else []), timeout=300)

    def rollout(self, service: str, tag: str, **wait: Any) -> dict[str, Any]:
        """Recreate ``service`` from ``localhost/<service>:<tag>`` and wait for its /ready (``wait``:
        ``wait_ready``'s timeout and accepted statuses)."""
        if service not in SERVICES:
            raise StackError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")
        ref = f"localhost/{service}:{tag}"
        if not self.engine.image_exists(ref):
            raise StackError(f"no image {ref}: build it with `make image` in {service}/")
        file = self.state_dir / "tags.json"
        history = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
        current = self.tags().get(service, self.tag)
        trail = history.setdefault(service, [current])
        if trail[-1] != tag:
            trail.append(tag)
        file.write_text(json.dumps(history, indent=1), encoding="utf-8")
        return self.restart(service, **wait)

    def undo(self, service: str, **wait: Any) -> dict[str, Any]:
        """Back to the tag ``service`` ran before its last rollout."""
        file = self.state_dir / "tags.json"
        history = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
        trail = history.get(service, [])
        if len(trail) < 2:
            raise StackError(f"{service} has no earlier tag to go back to (no rollout recorded)")
        trail.pop()
        file.write_text(json.dumps(history, indent=1), encoding="utf-8")
        return self.restart(service, **wait)

    def restart(self, service: str, **wait: Any) -> dict[str, Any]:
        """Recreate the service's container (same volumes, the current tag) and wait for /ready."""
        self.compose("up", "-d", "--no-deps", "--force-recreate", service)
        return self.wait_ready(service, "/ready", **wait)

    def status(self) -> dict[str, str]:
        states = {}
        for service in ["postgres", *INFRA.keys() - {"postgres"}, *SERVICES]:
            container = self.container(service)
            states[service] = self.engine.inspect(container, "container")["State"]["Status"] if container else "absent"
        return states


# -- the registry side ------------------------------------------------------------------------------
def copy_champion_out(engine: Engine, ref: str, dest: Path) -> Path:
    """The exported champion inside an image (``/app/models/champion``), copied to ``dest/champion``."""
    name = f"champion-copy-{secrets.token_hex(4)}"
    dest.mkdir(parents=True, exist_ok=True)
    engine.run("create", "--name", name, ref)
    try:
        engine.run("cp", f"{name}:/app/models/champion", str(dest / "champion"))
    finally:
        engine.run("rm", "-f", "-v", name, check=False)  # -v: the image's anonymous volumes too
    return dest / "champion"


def champion_version(tracking_uri: str, model_name: str) -> str | None:
    """The version ``@champion`` points at on the server, or None."""
    answer = httpx.get(
        f"{tracking_uri}/api/2.0/mlflow/registered-models/alias",
        params={"name": model_name, "alias": "champion"},
        timeout=30,
    )
    if answer.status_code == 200:
        return str(answer.json()["model_version"]["version"])
    if answer.status_code == 404 or "RESOURCE_DOES_NOT_EXIST" in answer.text:
        return None
    raise StackError(f"the MLflow server at {tracking_uri} answered {answer.status_code}: {answer.text[:300]}")


def register_export(export: Path, tracking_uri: str, why: str, promote: bool = True) -> str:
    """An exported model (an MLflow model folder plus ``serving_metadata.json``) logged through the
    MLflow server as a run's artifacts, registered as a new version and, with ``promote``, made
    ``@champion``. Nothing is trained: the run carries the original run's commit, data hashes and
    metrics. Returns the new version."""
    import mlflow

    from mlcore.lifecycle.champion import move_champion

    meta = json.loads((export / "serving_metadata.json").read_text(encoding="utf-8"))
    name = str(meta["model_name"])
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    tags = {
        "mlflow.runName": "registered export",
        "source.run_id": str(meta.get("run_id")),
        "source.version": str(meta.get("version")),
    }
    if meta.get("git_commit"):
        tags["git.commit"] = str(meta["git_commit"])
    tags |= {f"data.{split}.md5": str(md5) for split, md5 in (meta.get("training_data") or {}).items()}
    run = client.create_run(experiment_id, tags=tags)
    for key, value in (meta.get("metrics") or {}).items():
        client.log_metric(run.info.run_id, key, float(value))
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        shutil.copytree(export, model, ignore=shutil.ignore_patterns("serving_metadata.json"))
        client.log_artifacts(run.info.run_id, str(model), "model")
    client.set_terminated(run.info.run_id)
    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(name)
    version = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    if promote:
        move_champion(name, str(version.version), via="registered-export", why=why, client=client)
    return str(version.version)


def suite_stack(project: str = "mlsuite", state: Path | None = None, start: Path | None = None) -> Stack:
    """The stack of the suite around ``start`` (default: the working folder): its
    ``deploy/compose.yaml``; ports and the tag from the ``STACK_*`` variables."""
    start = (start or Path.cwd()).resolve()
    root = next((p for p in (start, *start.parents) if (p / "deploy" / "compose.yaml").exists()), None)
    if root is None:
        raise StackError(f"no deploy/compose.yaml in {start} or above: run this inside the suite (make stack-up)")
    ports = dict(DEFAULT_PORTS)
    for service in ports:
        variable = "STACK_MLFLOW_PORT" if service == "mlflow" else (
            "STACK_PROMETHEUS_PORT" if service == "prometheus" else env_name(service, "PORT")
        )  # fmt: skip
        ports[service] = int(os.environ.get(variable, ports[service]))
    return Stack(
        require_engine(), root / "deploy" / "compose.yaml", project, state, ports, os.environ.get("STACK_TAG", "latest")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The team stack of deploy/compose.yaml.")
    parser.add_argument("--project", default="mlsuite", help="compose project name (containers, volumes)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="build what is missing, start everything, wait until ready")
    down = commands.add_parser("down", help="stop and remove the containers (volumes kept)")
    down.add_argument("--volumes", action="store_true", help="remove the volumes too (database, artifacts, logs)")
    commands.add_parser("status", help="each container's state")
    rollout = commands.add_parser("rollout", help="recreate one service from another image tag")
    rollout.add_argument("service", choices=SERVICES)
    rollout.add_argument("tag")
    undo = commands.add_parser("undo", help="one service back to its tag before the last rollout")
    undo.add_argument("service", choices=SERVICES)
    args = parser.parse_args(argv)
    try:
        stack = suite_stack(args.project)
        if args.command == "up":
            answers = stack.up()
            say("stack", f"MLflow      {stack.url('mlflow')}")
            for service, ready in answers.items():
                served = f"v{ready.get('model_version')} from {ready.get('served_from')}"
                say("stack", f"{service:<22}{stack.url(service)}  ({served})")
            say("stack", f"Prometheus  {stack.url('prometheus')}")
            say("stack", f"admin token in {stack.state_dir / 'admin-token'}")
        elif args.command == "down":
            stack.down(volumes=args.volumes)
        elif args.command == "status":
            for service, state in stack.status().items():
                print(f"{service:<22}{state}")
        elif args.command == "rollout":
            print(json.dumps(stack.rollout(args.service, args.tag)))
        elif args.command == "undo":
            print(json.dumps(stack.undo(args.service)))
    except (StackError, WaitTimeout, subprocess.CalledProcessError, RuntimeError) as exc:
        detail = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        print(f"stack {args.command}: {str(detail).strip()[-2000:]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
