"""``python -m mlcore.batch``: the command behind ``make score``.

``--served <package>.predictor:SERVED --model models/champion --input X --output Y.parquet
[--engine local|spark] [--chunk N] [--resume] [--key COLUMN] [--log logs/batch.db] [--experiment NAME]``

Rows are validated with the service's own item schema: strictly for parquet and JSON lines (as
``POST /predict`` reads JSON), leniently for CSV (text has no types: ``"3"`` may be a number there).
A row that fails, or that the model refuses, goes to ``<output>.rejects.parquet`` with its key and
the reason naming the field; rows in = rows scored + rows rejected, printed at the end. Each output
row carries the input's key (``--key``, else the row number; a folder's file path), the model version
and the answer's fields (nested values as JSON text).

Exit codes: 0 done, 2 refused or bad input (the message says what to fix).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from mlcore.batch.inputs import Refused
from mlcore.batch.local import Summary, score
from mlcore.foundation.served import served_at


def record_run(summary: Summary, project: Path, experiment: str) -> str:
    """The job as an MLflow run in the project's tracking store; returns the run id."""
    import mlflow

    from mlcore.lifecycle import tracking

    tracking.configure(project, experiment)
    with mlflow.start_run(run_name=f"batch-score-{summary.engine}") as run:
        mlflow.set_tags({"job": "batch-score", "engine": summary.engine, "model_version": summary.model_version})
        mlflow.log_params({"input_sha256": summary.input_sha256, "output": summary.output})
        mlflow.log_metrics(
            {
                "rows_in": summary.rows_in,
                "rows_scored": summary.scored,
                "rows_rejected": summary.rejected,
                "rows_per_s": summary.rows_per_s,
                "peak_rss_mb": summary.peak_rss_mb,
            }
        )
        return run.info.run_id


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="score", description=(__doc__ or "").splitlines()[0])
    cli.add_argument("--served", required=True, help="<package>.predictor:SERVED")
    cli.add_argument("--model", type=Path, default=Path("models/champion"), help="an exported model folder")
    cli.add_argument("--input", type=Path, required=True, help="a .parquet, .csv or .jsonl file, or a folder of files")
    cli.add_argument("--output", type=Path, required=True, help="a .parquet file (a dataset folder with Spark)")
    cli.add_argument("--engine", choices=("local", "spark"), default="local")
    cli.add_argument("--chunk", type=int, default=10_000, help="rows scored (and held in memory) at a time")
    cli.add_argument("--key", default=None, help="the input column that identifies a row (default: the row number)")
    cli.add_argument("--resume", action="store_true", help="continue an interrupted job")
    cli.add_argument("--log", type=Path, default=None, help="also write the answers to this prediction log")
    cli.add_argument("--experiment", default=None, help="record the job as a run of this MLflow experiment")
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.output.suffix != ".parquet":
        print(f"score: --output {args.output} must end in .parquet", file=sys.stderr)
        return 2
    try:
        served = served_at(args.served)
        if args.engine == "spark":
            if args.resume or args.log:
                raise Refused("RESUME=1 and LOG= are in-process features: Spark retries failed tasks itself")
            from mlcore.batch.spark import score_spark

            summary = score_spark(served, args.model, args.input, args.output, args.key)
        else:
            summary = score(
                served, args.model, args.input, args.output, args.chunk, args.resume, args.key, log=args.log
            )
    except Refused as exc:
        print(f"score: {exc}", file=sys.stderr)
        return 2
    run = f"; MLflow run {record_run(summary, Path.cwd(), args.experiment)}" if args.experiment else ""
    logged = (
        f"; answers logged to {args.log} (make monitor OVERRIDES=monitor.prediction_log={args.log})" if args.log else ""
    )
    print(
        f"score: {summary.rows_in} rows in = {summary.scored} scored + {summary.rejected} rejected "
        f"({summary.rows_per_s:,.0f} rows/s, peak {summary.peak_rss_mb:,.0f} MB, model v{summary.model_version}, "
        f"{summary.engine}) -> {summary.output}, {summary.rejects}{run}{logged}"
    )
    print(json.dumps({**asdict(summary), "rows_per_s": round(summary.rows_per_s, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
