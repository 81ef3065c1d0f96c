"""The in-process engine: the served predictor over the input, one bounded chunk at a time.

Memory follows ``chunk`` (one chunk of rows, its answers and one part file at a time), never the
input's size. Chunks are written as parts to ``<output>.parts/`` (each renamed into place when
complete, beside a manifest naming the input's fingerprint, the model version, the chunk size and
the key); the output and its rejects appear only when every part is there. After a crash (kill -9
included) ``resume`` scores only the missing chunks; without it a folder of parts is refused, and so
is an existing output. With ``log``, each chunk's rows also go to a prediction log (arm ``batch``,
one request id per chunk, so a resumed chunk is logged once) that ``make monitor`` reads like served
traffic.
"""

from __future__ import annotations

import functools
import json
import resource
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlcore.batch.inputs import FOLDER_KEY, Refused, check_input, chunks, fingerprint
from mlcore.foundation.errors import InputError
from mlcore.foundation.served import ServedModel

BATCH_ARM = "batch"  # the prediction log's arm for rows a batch job scored


@dataclass
class Summary:
    rows_in: int = 0
    scored: int = 0
    rejected: int = 0
    seconds: float = 0.0
    model_version: str = ""
    input_sha256: str = ""
    output: str = ""
    rejects: str = ""
    engine: str = "local"
    peak_rss_mb: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.rows_in / self.seconds if self.seconds else 0.0


def rejects_path(output: Path) -> Path:
    return output.with_name(output.name.removesuffix(".parquet") + ".rejects.parquet")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def plain(value: Any) -> Any:
    """A cell as JSON would carry it: numpy scalars and arrays (parquet's lists) made plain, nested
    values too, NaN as a missing value."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN: a missing value
        return None
    return value


def request_rows(frame: pd.DataFrame, key: str | None) -> list[dict[str, Any]]:
    """The frame's rows as request bodies: every column but the key, missing values left out."""
    fields = [c for c in frame.columns if c != key]
    rows = frame[fields].to_dict(orient="records")  # plain Python scalars
    return [{c: plain(v) for c, v in row.items() if not _missing(v)} for row in rows]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


@functools.cache
def _list_adapter(item_schema: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(list[item_schema])


def validate(item_schema: Any, rows: list[dict[str, Any]], strict: bool) -> tuple[list[Any], list[int], list[str]]:
    """Valid items, their positions, and a reason per rejected position (``''`` for valid rows).

    The rows are validated as one list (one call into pydantic's core for the whole chunk); when
    some fail, each failing row's first error is its reason and the others are validated again."""
    from pydantic import ValidationError

    adapter = _list_adapter(item_schema)
    reasons = [""] * len(rows)
    kept = list(range(len(rows)))
    for _ in range(2):
        subset = [rows[i] for i in kept]
        try:
            if strict:  # as POST /predict reads JSON; values JSON cannot carry (timestamps) as their text
                items = adapter.validate_json(json.dumps(subset, default=str), strict=True)
            else:
                items = adapter.validate_python(subset)
            return items, kept, reasons
        except ValidationError as exc:
            failed: dict[int, str] = {}
            for err in exc.errors(include_url=False):
                index, *where = err["loc"]
                failed.setdefault(kept[int(index)], f"{'.'.join(str(p) for p in where) or 'row'}: {err['msg']}")
            for position, reason in failed.items():
                reasons[position] = reason
            kept = [i for i in kept if i not in failed]
    raise RuntimeError("rows that passed validation alone failed it together")  # pragma: no cover


def answer_rows(predictor: Any, items: list[Any]) -> list[dict[str, Any] | str]:
    """One answer per item, or the reason the model refused it (a whole chunk at once, then one
    item at a time when any item of it is refused)."""
    try:
        return list(predictor.predict(items))
    except InputError:
        out: list[dict[str, Any] | str] = []
        for item in items:
            try:
                out.append(predictor.predict([item])[0])
            except InputError as exc:
                out.append(f"{exc.field}: {exc.message}")
        return out


def flat(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer as one table row: nested values as compact JSON text (as Spark's ``to_json`` writes them)."""
    return {k: json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list)) else v for k, v in answer.items()}


@dataclass
class Chunk:
    answers: pd.DataFrame
    rejects: pd.DataFrame
    items: list[Any]  # the scored items and their answers, for the prediction log
    answered: list[dict[str, Any]]


def score_chunk(
    served: ServedModel, predictor: Any, frame: pd.DataFrame, first: int, key: str | None, strict: bool, version: str
) -> Chunk:
    """Answers and rejects of one chunk; ``first`` is the chunk's first row number."""
    keys = frame[key].map(plain).tolist() if key else list(range(first, first + len(frame)))
    items, kept, reasons = validate(served.item, request_rows(frame, key), strict)
    answered = answer_rows(predictor, items) if items else []
    scored, good_items, good_answers = [], [], []
    for position, item, answer in zip(kept, items, answered, strict=True):
        if isinstance(answer, str):
            reasons[position] = answer
        else:
            scored.append({"key": keys[position], "model_version": version, **flat(answer)})
            good_items.append(item)
            good_answers.append(answer)
    rejected = [{"key": keys[i], "reason": r} for i, r in enumerate(reasons) if r]
    return Chunk(pd.DataFrame(scored), pd.DataFrame(rejected, columns=["key", "reason"]), good_items, good_answers)


def write_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def combine(parts: list[Path], out: Path) -> int:
    """Concatenate part files into ``out`` one at a time (memory: one part); returns the rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = out.with_name(f".{out.name}.tmp")
    writer, rows, schema = None, 0, None
    try:
        for part in parts:
            table = pq.read_table(part)
            if table.num_rows == 0:
                continue
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(tmp, schema)
            writer.write_table(table.cast(schema) if table.schema != schema else table)
            rows += table.num_rows
        if writer is None:
            pq.write_table(pa.table({"key": pa.array([], pa.int64())}), tmp)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(out)
    return rows


def refuse_existing(output: Path, parts: Path, resume: bool) -> None:
    if output.exists():
        raise Refused(f"--output {output} exists: remove it or name another")
    if parts.exists() and not resume:
        raise Refused(
            f"{parts} holds an interrupted job's chunks: RESUME=1 continues it, or remove the folder to start over"
        )


def check_manifest(parts: Path, manifest: dict[str, Any]) -> None:
    """Record the job's manifest, or refuse to resume a job whose input, model or settings changed."""
    recorded = parts / "manifest.json"
    if recorded.exists():
        before = json.loads(recorded.read_text(encoding="utf-8"))
        if before != manifest:
            changed = sorted(k for k in manifest if before.get(k) != manifest[k])
            raise Refused(
                f"cannot resume: the {', '.join(changed)} differ from the interrupted job's; remove {parts} to start over"
            )
    else:
        recorded.write_text(json.dumps(manifest), encoding="utf-8")


def score(
    served: ServedModel,
    model_dir: Path,
    source: Path,
    output: Path,
    chunk: int = 10_000,
    resume: bool = False,
    key: str | None = None,
    progress: bool = True,
    log: Path | None = None,
) -> Summary:
    """Score ``source`` into ``output`` (parquet) with the exported model in ``model_dir``."""
    from mlcore.lifecycle.registry import load_export
    from mlcore.serving import predlog
    from mlcore.serving.predictor import log_inputs

    if chunk < 1:
        raise Refused(f"--chunk must be at least 1, not {chunk}")
    check_input(source, served.upload_field)
    if source.is_dir():
        if key not in (None, FOLDER_KEY):
            raise Refused(f"--key {key!r}: a folder's rows are keyed by their file's path; leave KEY out")
        key = FOLDER_KEY
    parts = output.with_name(output.name + ".parts")
    refuse_existing(output, parts, resume)
    model = load_export(model_dir)
    version = str(model.version)
    manifest = {"input_sha256": fingerprint(source), "model_version": version, "chunk": chunk, "key": key}
    parts.mkdir(parents=True, exist_ok=True)
    check_manifest(parts, manifest)
    predictor = served.load(model.path)
    strict = source.suffix.lower() != ".csv"
    conn = predlog.connect(log) if log is not None else None
    job = f"batch:{manifest['input_sha256'][:12]}:v{version}"
    started = time.perf_counter()
    summary = Summary(model_version=version, input_sha256=manifest["input_sha256"])
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit=" rows", desc=f"[score] {source.name}", file=sys.stderr, mininterval=1.0)
    first = 0
    try:
        for index, frame in enumerate(chunks(source, chunk, served.upload_field)):
            if key and key not in frame.columns:
                columns = ", ".join(map(str, frame.columns))
                raise Refused(f"--key {key!r} is not a column of {source.name} (columns: {columns})")
            answers_part, rejects_part = parts / f"part-{index:06d}.parquet", parts / f"rejects-{index:06d}.parquet"
            if not (answers_part.exists() and rejects_part.exists()):
                done = score_chunk(served, predictor, frame, first, key, strict, version)
                if conn is not None and done.items:
                    logged = log_inputs(predictor, done.items)
                    predlog.replace_rows(conn, f"{job}:{index}", version, logged, done.answered, BATCH_ARM)
                write_atomic(done.rejects, rejects_part)
                write_atomic(done.answers, answers_part)  # last: its presence means the chunk is complete
            first += len(frame)
            if bar is not None:
                bar.update(len(frame))
    finally:
        if bar is not None:
            bar.close()
        if conn is not None:
            conn.close()
    summary.rows_in = first
    summary.scored = combine(sorted(parts.glob("part-*.parquet")), output)
    summary.rejected = combine(sorted(parts.glob("rejects-*.parquet")), rejects_path(output))
    shutil.rmtree(parts)
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.output, summary.rejects = str(output), str(rejects_path(output))
    summary.peak_rss_mb = peak_rss_mb()
    if summary.scored + summary.rejected != summary.rows_in:
        raise Refused(
            f"internal error: {summary.rows_in} rows in, {summary.scored} scored + {summary.rejected} rejected"
        )
    return summary
