"""``make team-up`` / ``make team-down``: a team's MLflow tracking server on PostgreSQL.

``python -m mlcore.team up|down|status [--state DIR] [--pg-port N] [--port N]``

- ``up``: a PostgreSQL cluster in ``<state>/pgdata`` (created on first start with a generated
  password in ``<state>/credentials``, readable by this user only; the database ``mlflow`` is
  created once), listening on 127.0.0.1 only; then ``mlflow server`` on it with
  ``--serve-artifacts`` (artifacts in ``<state>/artifacts``, served through the server), bound to
  127.0.0.1. Every project then uses it with ``MLFLOW_TRACKING_URI=http://127.0.0.1:<port>``
  and no other change. Idempotent: what already runs is left running.
- ``down``: the MLflow server stopped by its PID, PostgreSQL by ``pg_ctl stop``. Idempotent.

PostgreSQL comes from Debian's packages (``postgresql``). It refuses to run as root: as root the
cluster belongs to, and runs as, the ``postgres`` user. The same registry in containers,
with the services beside it, is the stack (``make stack-up``, ``deploy/compose.yaml``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from mlcore.foundation.progress import say, step
from mlcore.foundation.redact import mask_credentials

DB, USER = "mlflow", "mlflow"


@dataclass
class Team:
    state: Path
    pg_port: int = 5433
    port: int = 5500

    @property
    def pgdata(self) -> Path:
        return self.state / "pgdata"

    @property
    def tracking_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def database_uri(self) -> str:
        return f"postgresql+psycopg2://{USER}:{self.password()}@127.0.0.1:{self.pg_port}/{DB}"

    def password(self) -> str:
        return (self.state / "credentials").read_text(encoding="utf-8").strip()

    @property
    def pid_file(self) -> Path:
        return self.state / "mlflow.pid"


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary: on PATH, or in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise SystemExit(
            f"team-up: PostgreSQL's {name} not found: install Debian's postgresql (apt-get install postgresql)"
        )
    return found


def as_pg_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses root: run its binaries as ``postgres`` then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _give_to_pg_user(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"team-up: {what} failed: {mask_credentials((done.stderr or done.stdout).strip()[-800:])}")


def postgres_up(team: Team) -> None:
    team.state.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        team.state.chmod(0o755)  # the postgres user reaches its cluster through here
    credentials = team.state / "credentials"
    if not team.pgdata.exists():
        with step("team", f"create the PostgreSQL cluster in {team.pgdata}"):
            credentials.write_text(secrets.token_urlsafe(18) + "\n", encoding="utf-8")
            credentials.chmod(0o600)
            team.pgdata.mkdir(mode=0o700)
            _give_to_pg_user(team.pgdata)
            pwfile = team.state / ".pwfile"
            pwfile.write_text(team.password() + "\n", encoding="utf-8")
            pwfile.chmod(0o600)
            _give_to_pg_user(pwfile)
            try:
                _run(
                    as_pg_user(
                        [
                            pg_bin("initdb"),
                            "-D",
                            str(team.pgdata),
                            "-U",
                            USER,
                            f"--pwfile={pwfile}",
                            "--auth=scram-sha-256",
                            "-E",
                            "UTF8",
                            "--locale=C",
                        ]
                    ),
                    "initdb",
                )
            finally:
                pwfile.unlink(missing_ok=True)
    if _pg_running(team):
        say("team", f"PostgreSQL already running on 127.0.0.1:{team.pg_port}")
    else:
        with step("team", f"start PostgreSQL on 127.0.0.1:{team.pg_port}"):
            options = f"-p {team.pg_port} -c listen_addresses=127.0.0.1 -k {team.pgdata}"
            _run(
                as_pg_user(
                    [
                        pg_bin("pg_ctl"),
                        "-D",
                        str(team.pgdata),
                        "-l",
                        str(team.pgdata / "server.log"),
                        "-o",
                        options,
                        "-w",
                        "start",
                    ]
                ),
                "pg_ctl start",
            )
    _ensure_database(team)


def _pg_running(team: Team) -> bool:
    if not team.pgdata.exists():
        return False
    done = subprocess.run(
        as_pg_user([pg_bin("pg_ctl"), "-D", str(team.pgdata), "status"]), capture_output=True, check=False
    )  # noqa: S603
    return done.returncode == 0


def _ensure_database(team: Team) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=team.pg_port, user=USER, password=team.password(), dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {DB}")
                say("team", f"database {DB} created")
    finally:
        conn.close()


def mlflow_up(team: Team, timeout: float = 120.0) -> None:
    if _alive(team):
        say("team", f"MLflow server already running at {team.tracking_uri} (pid {team.pid_file.read_text().strip()})")
        return
    artifacts = team.state / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", team.database_uri(),
        "--serve-artifacts", "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(team.port), "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    with step("team", f"start the MLflow server at {team.tracking_uri} (backend PostgreSQL, artifacts served)"):
        log = (team.state / "mlflow.log").open("ab")
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)  # noqa: S603
        team.pid_file.write_text(f"{process.pid}\n", encoding="utf-8")
        deadline = time.monotonic() + timeout
        while not _healthy(team):
            if process.poll() is not None or time.monotonic() > deadline:
                _stop_pid(team)
                tail = (team.state / "mlflow.log").read_text(errors="replace")[-1500:]
                raise SystemExit(f"team-up: the MLflow server did not start; its log ends:\n{mask_credentials(tail)}")
            time.sleep(0.5)


def _healthy(team: Team) -> bool:
    try:
        with urllib.request.urlopen(f"{team.tracking_uri}/health", timeout=2) as response:  # noqa: S310 - loopback
            return response.status == 200
    except OSError:
        return False


def _alive(team: Team) -> bool:
    if not team.pid_file.exists():
        return False
    pid = int(team.pid_file.read_text().strip())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return _healthy(team)


def _stop_pid(team: Team, wait: float = 15.0) -> None:
    if not team.pid_file.exists():
        return
    pid = int(team.pid_file.read_text().strip())
    try:
        os.killpg(pid, signal.SIGTERM)  # the server and its worker (own session)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.2)
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    team.pid_file.unlink(missing_ok=True)


def up(team: Team) -> None:
    postgres_up(team)
    mlflow_up(team)
    (team.state / "team.json").write_text(
        json.dumps({**asdict(team), "state": str(team.state)}) + "\n", encoding="utf-8"
    )
    say("team", f"ready: export MLFLOW_TRACKING_URI={team.tracking_uri}   (UI: {team.tracking_uri})")


def down(team: Team) -> None:
    if team.pid_file.exists():
        with step("team", "stop the MLflow server"):
            _stop_pid(team)
    else:
        say("team", "no MLflow server running")
    if _pg_running(team):
        with step("team", "stop PostgreSQL"):
            _run(as_pg_user([pg_bin("pg_ctl"), "-D", str(team.pgdata), "-m", "fast", "-w", "stop"]), "pg_ctl stop")
    else:
        say("team", "PostgreSQL not running")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlcore.team", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--state", type=Path, default=Path(".team"), help="Where the cluster, artifacts and logs live")
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("TEAM_PG_PORT", 5433)))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TEAM_PORT", 5500)))
    args = parser.parse_args(argv)
    team = Team(args.state.resolve(), args.pg_port, args.port)
    if args.command == "up":
        up(team)
    elif args.command == "down":
        down(team)
    else:
        print(json.dumps({"postgres": _pg_running(team), "mlflow": _alive(team), "tracking_uri": team.tracking_uri}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
