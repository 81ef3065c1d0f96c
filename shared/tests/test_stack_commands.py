"""``mlcore.deploy.stack`` without containers: what compose gets, the secrets' modes, the rollout
history and the refusals. The stack started for real is the suite's tests/stack."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from mlcore.deploy.engine import Engine
from mlcore.deploy.stack import DEFAULT_PORTS, SERVICES, Stack, StackError, main, suite_stack


def stack(tmp_path: Path, name: str = "podman") -> Stack:
    engine = Engine(name, (name,))
    return Stack(engine, tmp_path / "deploy" / "compose.yaml", "t", tmp_path / "state", dict(DEFAULT_PORTS), "v7")


def test_compose_gets_ports_tags_and_the_secrets_folder(tmp_path: Path) -> None:
    s = stack(tmp_path)
    env = s.environ()
    assert env["STACK_TAG"] == "v7" and env["STACK_SECRETS"] == str(tmp_path / "state")
    assert env["STACK_SPAM_CLASSIFIER_PORT"] == "8001" and env["STACK_MLFLOW_PORT"] == "5500"
    assert "STACK_SPAM_CLASSIFIER_TAG" not in env  # no rollout yet: STACK_TAG for all
    cmd = s.compose_cmd("up", "-d")
    assert cmd[:3] == [sys.executable, "-m", "podman_compose"] and cmd[-6:] == [
        "-p",
        "t",
        "-f",
        str(s.compose_file),
        "up",
        "-d",
    ]
    assert stack(tmp_path, "docker").compose_cmd("ps")[:2] == ["docker", "compose"]


def test_secrets_are_generated_once_and_readable_by_the_services_user_only(tmp_path: Path) -> None:
    s = stack(tmp_path)
    s.write_secrets()
    token = s.admin_token()
    s.write_secrets()
    assert s.admin_token() == token and len(token) >= 32
    assert stat.S_IMODE(s.state_dir.stat().st_mode) == 0o700
    for name in ("db-password", "admin-token"):
        info = (s.state_dir / name).stat()
        if os.geteuid() == 0:
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (10001, 0o400)
        else:
            assert stat.S_IMODE(info.st_mode) == 0o444


def test_undo_without_a_rollout_and_an_unknown_service_are_refused(tmp_path: Path) -> None:
    s = stack(tmp_path)
    with pytest.raises(StackError, match="no earlier tag"):
        s.undo("spam-classifier")
    with pytest.raises(StackError, match="unknown service 'nope'"):
        s.rollout("nope", "v1")


def test_the_rollout_history_sets_one_service_tag(tmp_path: Path) -> None:
    s = stack(tmp_path)
    s.state_dir.mkdir(parents=True)
    (s.state_dir / "tags.json").write_text('{"housing-price": ["v7", "v8"]}', encoding="utf-8")
    assert s.tags() == {"housing-price": "v8"}
    assert s.environ()["STACK_HOUSING_PRICE_TAG"] == "v8" and s.environ()["STACK_TAG"] == "v7"
    assert set(SERVICES) >= set(s.tags())


def test_outside_the_suite_the_command_says_where_to_run_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(StackError, match="run this inside the suite"):
        suite_stack(start=tmp_path)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert main(["status"]) == 1
    finally:
        os.chdir(cwd)
    assert "deploy/compose.yaml" in capsys.readouterr().err
