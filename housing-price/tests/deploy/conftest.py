"""Fixtures of the deployment tests: the container engine, the image built from the test
pipeline's model, and Prometheus's tools (promtool, amtool). Without podman or docker, or without
the tools, these tests are skipped, unless ``ML_REQUIRE_CONTAINERS=1`` (the suite's ``make test``
sets it) makes that a failure."""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlcore.deploy.engine import Engine, find_engine
from mlcore.deploy.image import Built, build

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def engine() -> Engine:
    found = find_engine()
    if found is None:
        if os.environ.get("ML_REQUIRE_CONTAINERS") == "1":
            pytest.fail("ML_REQUIRE_CONTAINERS=1 but there is no podman or docker on PATH")
        pytest.skip("no container engine (podman or docker): the image tests need one")
    return found


@pytest.fixture(scope="session")
def image(engine: Engine, trained: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    cfg = trained["cfg"]
    log = tmp_path_factory.mktemp("image") / "build.log"
    tag = f"localhost/{cfg.project.name}:test-{uuid.uuid4().hex[:8]}"
    # ML_KEEP_IMAGE_TAG: the checked image also gets this tag, which outlives the session (the
    # suite's `make test` runs its team stack with the five images its projects checked)
    keep = os.environ.get("ML_KEEP_IMAGE_TAG")
    tags = [tag, *([f"localhost/{cfg.project.name}:{keep}"] if keep else [])]
    built = build(ROOT, cfg, engine=engine, model_root=trained["root"], log=log, tags=tags)
    print(f"\n[image] {built.ref}: {built.size_bytes / 1e6:.0f} MB, built in {built.seconds:.0f} s")
    yield built
    engine.run("rmi", built.ref, check=False)  # this tag only: a kept tag keeps the image


@pytest.fixture(scope="session")
def admin_token(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An engine secret holding a fresh admin token: (secret name, token)."""
    if engine.name != "podman":
        pytest.skip("`docker run` has no --secret (compose and swarm do): the secret test needs podman")
    token, name = secrets.token_urlsafe(24), f"mlsuite-token-{uuid.uuid4().hex[:8]}"
    file = tmp_path_factory.mktemp("secret") / "token"
    file.write_text(token, encoding="utf-8")
    engine.run("secret", "create", name, str(file))
    file.unlink()
    yield name, token
    engine.run("secret", "rm", name, check=False)


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("ML_REQUIRE_CONTAINERS") == "1":
            pytest.fail(f"ML_REQUIRE_CONTAINERS=1 but {name} is missing: apt-get install {package}")
        pytest.skip(f"no {name} (Debian's {package} package ships it)")
    return found


@pytest.fixture(scope="module")
def promtool() -> str:
    return tool("promtool", "prometheus")


@pytest.fixture(scope="module")
def amtool() -> str:
    return tool("amtool", "prometheus-alertmanager")
