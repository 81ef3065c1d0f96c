"""The suite's base image, made from Debian's packages where no image can be pulled.

    python -m mlcore.deploy.base          # build it once (about 30 s); later runs only check

``mmdebstrap`` writes a minimal Debian bookworm with Python 3.11 (the Dockerfiles' default base,
``python:3.11-slim``, in spirit: no docs, man pages, locales or apt lists) and the engine imports
it. A user with Docker Hub needs none of this: the Dockerfiles default to ``python:3.11-slim``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlcore.deploy.engine import Engine, require_engine

BASE_IMAGE = "localhost/mlsuite/python:3.11-bookworm"
PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
LEAVE_OUT = ("/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*", "/usr/share/info/*")


def mmdebstrap_command(tarball: Path) -> list[str]:
    excludes = [f"--dpkgopt=path-exclude={pattern}" for pattern in LEAVE_OUT]
    cleanup = '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*'
    return [
        "mmdebstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        *excludes,
        cleanup,
        "bookworm",
        str(tarball),
    ]


def ensure_base(engine: Engine, ref: str = BASE_IMAGE) -> str:
    """``ref`` in the engine's store, built from Debian's packages when missing."""
    if engine.image_exists(ref):
        return ref
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError(
            "no mmdebstrap: apt-get install mmdebstrap (it builds the base image from Debian's packages)"
        )
    print(f"[image] building the base image {ref} from Debian bookworm (mmdebstrap, about 30 s)", flush=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        tarball = Path(tmp) / "base.tar"
        subprocess.run(mmdebstrap_command(tarball), check=True, capture_output=True, text=True)  # noqa: S603
        path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # an imported tarball has none
        engine.run("import", "--change", f"ENV {path}", "--change", 'CMD ["python3"]', str(tarball), ref)
    print(f"[image] {ref} built in {time.monotonic() - start:.0f} s", flush=True)
    return ref


def local_base(engine: Engine) -> str | None:
    """The suite's base when it is in the engine's store, else None (the Dockerfile's default)."""
    return BASE_IMAGE if engine.image_exists(BASE_IMAGE) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the suite's Debian base image (idempotent).")
    parser.add_argument("--ref", default=BASE_IMAGE)
    args = parser.parse_args(argv)
    try:
        print(ensure_base(require_engine(), args.ref))
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        print(f"base image: {str(detail).strip()[-1500:]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
