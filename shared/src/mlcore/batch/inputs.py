"""What a batch job reads: a parquet, CSV or JSON-lines file, or a folder of uploads (images).

One home for the input rules both engines follow: which inputs are accepted, how a folder
becomes rows (one per file, keyed by its path, the file's bytes in the model's upload field, as a
multipart upload to ``POST /predict`` becomes an item), and the input's fingerprint that a resumed
job must match.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

FILE_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")
FOLDER_KEY = "path"  # the key of a folder's rows: the file's path inside the folder


class Refused(RuntimeError):
    """The job cannot run; the message says what to fix."""


def check_input(source: Path, upload_field: str | None) -> None:
    """Refuse an input the job cannot read, saying what it can."""
    if not source.exists():
        raise Refused(f"--input {source} does not exist")
    if source.is_dir():
        if upload_field is None:
            raise Refused(
                f"--input {source} is a folder: this model reads rows, give a parquet, CSV or JSON-lines file"
            )
        if not any(folder_files(source)):
            raise Refused(f"--input {source} holds no files")
        return
    if source.suffix.lower() not in FILE_SUFFIXES:
        raise Refused(
            f"--input {source.name}: read parquet, CSV or JSON lines ({', '.join(FILE_SUFFIXES)}) or a folder"
        )


def folder_files(folder: Path) -> Iterator[Path]:
    """Every regular file under ``folder`` (hidden ones left out), in a stable order. Files the model
    cannot read are not skipped here: they become rejects with the reason, so none vanishes."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts):
            yield path


def fingerprint(source: Path) -> str:
    """sha256 of a file's bytes, or of a folder's file paths and bytes."""
    digest = hashlib.sha256()
    files = folder_files(source) if source.is_dir() else [source]
    for path in files:
        if source.is_dir():
            digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def chunks(source: Path, size: int, upload_field: str | None = None) -> Iterator[pd.DataFrame]:
    """The input, ``size`` rows at a time (parquet row batches, CSV and JSON-lines chunks, a folder's
    files ``size`` at a time as ``path`` + the upload field, base64, as JSON would carry the bytes)."""
    if source.is_dir():
        batch: list[Path] = []
        for path in folder_files(source):
            batch.append(path)
            if len(batch) == size:
                yield folder_frame(source, batch, upload_field or "file")
                batch = []
        if batch:
            yield folder_frame(source, batch, upload_field or "file")
        return
    suffix = source.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        for record_batch in pq.ParquetFile(source).iter_batches(batch_size=size):
            yield record_batch.to_pandas()
    elif suffix == ".csv":
        yield from pd.read_csv(source, chunksize=size, dtype=str, keep_default_na=False)
    elif suffix in (".jsonl", ".json"):
        yield from pd.read_json(source, lines=True, chunksize=size, dtype=False)
    else:
        raise Refused(f"--input {source.name}: read parquet, CSV or JSON lines ({', '.join(FILE_SUFFIXES)})")


def folder_frame(folder: Path, files: list[Path], field: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            FOLDER_KEY: [path.relative_to(folder).as_posix() for path in files],
            field: [base64.b64encode(path.read_bytes()).decode() for path in files],
        }
    )
