"""``make score INPUT=... OUTPUT=...``: score a file with the served model, in bounded chunks.

``python -m mlcore.batch --served <package>.predictor:SERVED --model models/champion --input X
--output Y.parquet [--chunk N] [--resume] [--key COLUMN]``

- **Input**: parquet, CSV or JSON lines (by suffix), read ``--chunk`` rows at a time, so memory
  follows the chunk size, not the file's. Each row is validated with the service's own item schema:
  strictly for parquet and JSON lines (as ``POST /predict`` reads JSON), leniently for CSV (text has
  no types: ``"3"`` may be a number there).
- **Rejects never stop the job and never vanish**: a row that fails validation, or that the model
  refuses (``InputError``, e.g. an undecodable image), goes to ``<output>.rejects.parquet`` with
  its key and the reason naming the field. At the end: rows in = rows scored + rows rejected.
- **Answers**: the same predictor ``/predict`` runs (``SERVED.load``), so the same answers on the
  same rows; each output row carries the input's key (``--key``, else the row number), the model
  version and the answer's fields (nested values as JSON text).
- **Atomic and resumable**: chunks are written as parts to ``<output>.parts/`` (each part renamed
  into place when complete, beside a manifest naming the input's hash, the model version and the
  chunk size); the output and its rejects appear only when every part is there. After a crash
  (kill -9 included) ``--resume`` scores only the missing chunks; without it a folder of parts is
  refused, and so is an existing output.
- **Recorded**: with ``--experiment``, one MLflow run (model version, input hash, rows in, scored
  and rejected, rows/s).

Exit codes: 0 done, 2 refused or bad input (the message says what to fix).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlcore.foundation.errors import InputError
from mlcore.foundation.served import ServedModel

READERS = (".parquet", ".csv", ".jsonl", ".json")


class Refused(RuntimeError):
    """The job cannot run; the message says what to fix."""


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

    @property
    def rows_per_s(self) -> float:
        return self.rows_in / self.seconds if self.seconds else 0.0


def served_model(home: str) -> ServedModel:
    module, _, name = home.partition(":")
    return getattr(importlib.import_module(module), name)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def chunks(path: Path, size: int) -> Iterator[pd.DataFrame]:
    """The input, ``size`` rows at a time (parquet row batches, CSV and JSON-lines chunks)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
            yield batch.to_pandas()
    elif suffix == ".csv":
        yield from pd.read_csv(path, chunksize=size, dtype=str, keep_default_na=False)
    elif suffix in (".jsonl", ".json"):
        yield from pd.read_json(path, lines=True, chunksize=size, dtype=False)
    else:
        raise Refused(f"--input {path.name}: read parquet, CSV or JSON lines ({', '.join(READERS)})")


def plain(value: Any) -> Any:
    """A cell as JSON would carry it (numpy scalars and NaN made plain)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN: a missing value
        return None
    return value


def validate(served: ServedModel, rows: list[dict[str, Any]], strict: bool) -> tuple[list[Any], list[int], list[str]]:
    """Valid items, their positions, and a reason per rejected position (``''`` for valid rows)."""
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(served.item)
    items, kept, reasons = [], [], []
    for i, row in enumerate(rows):
        try:
            item = adapter.validate_json(json.dumps(row), strict=True) if strict else adapter.validate_python(row)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"]) or "row"
            reasons.append(f"{where}: {err['msg']}")
            continue
        items.append(item)
        kept.append(i)
        reasons.append("")
    return items, kept, reasons


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
    return {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in answer.items()}


def score_chunk(
    served: ServedModel, predictor: Any, frame: pd.DataFrame, first: int, key: str | None, strict: bool, version: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(answers, rejects) of one chunk; ``first`` is the chunk's first row number."""
    keys = frame[key].map(plain).tolist() if key else list(range(first, first + len(frame)))
    fields = [c for c in frame.columns if c != key] if key else list(frame.columns)
    rows = [
        {c: plain(v) for c, v in zip(fields, values, strict=True) if plain(v) is not None}
        for values in frame[fields].itertuples(index=False, name=None)
    ]
    items, kept, reasons = validate(served, rows, strict)
    answered = answer_rows(predictor, items) if items else []
    scored, rejected = [], []
    for position, answer in zip(kept, answered, strict=True):
        if isinstance(answer, str):
            reasons[position] = answer
        else:
            scored.append({"key": keys[position], "model_version": version, **flat(answer)})
    rejected = [{"key": keys[i], "reason": r} for i, r in enumerate(reasons) if r]
    return pd.DataFrame(scored), pd.DataFrame(rejected, columns=["key", "reason"])


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


def score(
    served: ServedModel,
    model_dir: Path,
    source: Path,
    output: Path,
    chunk: int = 10_000,
    resume: bool = False,
    key: str | None = None,
    progress: bool = True,
) -> Summary:
    from mlcore.lifecycle.registry import load_export

    if chunk < 1:
        raise Refused(f"--chunk must be at least 1, not {chunk}")
    if not source.exists():
        raise Refused(f"--input {source} does not exist")
    if source.suffix.lower() not in READERS:
        raise Refused(f"--input {source.name}: read parquet, CSV or JSON lines ({', '.join(READERS)})")
    rejects_path = output.with_name(output.name.removesuffix(".parquet") + ".rejects.parquet")
    parts = output.with_name(output.name + ".parts")
    if output.exists():
        raise Refused(f"--output {output} exists: remove it or name another")
    if parts.exists() and not resume:
        raise Refused(
            f"{parts} holds an interrupted job's chunks: RESUME=1 continues it, or remove the folder to start over"
        )
    model = load_export(model_dir)
    manifest = {"input_sha256": file_sha256(source), "model_version": str(model.version), "chunk": chunk, "key": key}
    parts.mkdir(parents=True, exist_ok=True)
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
    predictor = served.load(model.path)
    strict = source.suffix.lower() != ".csv"
    started, summary = (
        time.perf_counter(),
        Summary(model_version=str(model.version), input_sha256=manifest["input_sha256"]),
    )
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit=" rows", desc=f"[score] {source.name}", file=sys.stderr, mininterval=1.0)
    first = 0
    for index, frame in enumerate(chunks(source, chunk)):
        if key and key not in frame.columns:
            raise Refused(
                f"--key {key!r} is not a column of {source.name} (columns: {', '.join(map(str, frame.columns))})"
            )
        answers_part, rejects_part = parts / f"part-{index:06d}.parquet", parts / f"rejects-{index:06d}.parquet"
        if not (answers_part.exists() and rejects_part.exists()):
            scored, rejected = score_chunk(served, predictor, frame, first, key, strict, str(model.version))
            write_atomic(rejected, rejects_part)
            write_atomic(scored, answers_part)  # last: its presence means the chunk is complete
        first += len(frame)
        if bar is not None:
            bar.update(len(frame))
    if bar is not None:
        bar.close()
    summary.rows_in = first
    summary.scored = combine(sorted(parts.glob("part-*.parquet")), output)
    summary.rejected = combine(sorted(parts.glob("rejects-*.parquet")), rejects_path)
    shutil.rmtree(parts)
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.output, summary.rejects = str(output), str(rejects_path)
    if summary.scored + summary.rejected != summary.rows_in:
        raise Refused(
            f"internal error: {summary.rows_in} rows in, {summary.scored} scored + {summary.rejected} rejected"
        )
    return summary


def record_run(summary: Summary, project: Path, experiment: str) -> str:
    """The job as an MLflow run in the project's tracking store; returns the run id."""
    import mlflow

    from mlcore.lifecycle import tracking

    tracking.configure(project, experiment)
    with mlflow.start_run(run_name="batch-score") as run:
        mlflow.set_tags({"job": "batch-score", "model_version": summary.model_version})
        mlflow.log_params({"input_sha256": summary.input_sha256, "output": summary.output})
        mlflow.log_metrics(
            {
                "rows_in": summary.rows_in,
                "rows_scored": summary.scored,
                "rows_rejected": summary.rejected,
                "rows_per_s": summary.rows_per_s,
            }
        )
        return run.info.run_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="score", description=__doc__.splitlines()[0])
    parser.add_argument("--served", required=True, help="<package>.predictor:SERVED")
    parser.add_argument("--model", type=Path, default=Path("models/champion"), help="an exported model folder")
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True, help="a .parquet file")
    parser.add_argument("--chunk", type=int, default=10_000, help="rows scored (and held in memory) at a time")
    parser.add_argument("--key", default=None, help="the input column that identifies a row (default: the row number)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted job")
    parser.add_argument("--experiment", default=None, help="record the job as a run of this MLflow experiment")
    args = parser.parse_args(argv)
    if args.output.suffix != ".parquet":
        print(f"score: --output {args.output} must end in .parquet", file=sys.stderr)
        return 2
    try:
        summary = score(
            served_model(args.served), args.model, args.input, args.output, args.chunk, args.resume, args.key
        )
    except Refused as exc:
        print(f"score: {exc}", file=sys.stderr)
        return 2
    run = f"; MLflow run {record_run(summary, Path.cwd(), args.experiment)}" if args.experiment else ""
    print(
        f"score: {summary.rows_in} rows in = {summary.scored} scored + {summary.rejected} rejected "
        f"({summary.rows_per_s:,.0f} rows/s, model v{summary.model_version}) -> {summary.output}, {summary.rejects}{run}"
    )
    print(json.dumps(asdict(summary)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
