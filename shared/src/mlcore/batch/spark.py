"""The Spark engine (``make score ENGINE=spark``): the same model through ``mlflow.pyfunc.spark_udf``.

``SPARK_MASTER`` names the cluster (``local[*]`` by default: every core of this machine). The job:

1. reads the input with Spark (parquet, CSV with a header, JSON lines, or a folder of files through
   Spark's ``binaryFile`` source, each file's bytes base64-encoded into the model's upload field);
2. numbers the rows when no ``--key`` names them (``zipWithIndex``: the row's position in the input,
   the key the in-process engine gives);
3. validates every row on the executors with the service's own item schema (``mapInPandas``; the
   schema comes from the model's ``code/`` folder, shipped with ``SparkContext.addFile``, so the
   executors need no project install): failures go to the rejects with the field named;
4. scores the valid rows with ``mlflow.pyfunc.spark_udf`` over the model folder (the pyfunc flavor
   answers exactly as ``POST /predict``; the result type comes from the model's signature);
5. writes the answers and the rejects as parquet datasets (folders, Spark's output format) under
   temporary names and renames both into place only when both are complete.

Resuming is Spark's own business: failed tasks are retried by the scheduler; a job whose driver
died starts over, and its output never appears half-written. A row the model itself refuses (a
file that is not an image) fails its task with the reason; the in-process engine turns such rows into rejects.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlcore.batch.inputs import FOLDER_KEY, Refused, check_input, fingerprint
from mlcore.batch.local import Summary, peak_rss_mb, rejects_path
from mlcore.foundation.served import ServedModel

REASON = "_reason"
ROW = "_row"


def session(master: str | None = None) -> Any:
    """A Spark session on ``master`` (else ``SPARK_MASTER``, else ``local[*]``), quiet but for its
    stage progress bar; its Python workers run this interpreter."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master or os.environ.get("SPARK_MASTER", "local[*]"))
        .appName("mlsuite-score")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "true")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def read(spark: Any, source: Path, upload_field: str | None) -> Any:
    """The input as a Spark DataFrame of request fields (a folder: ``path`` and the upload field)."""
    from pyspark.sql import functions as F  # noqa: N812

    if source.is_dir():
        files = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(str(source))
        prefix = source.resolve().as_uri().removeprefix("file://") + "/"
        relative = F.regexp_replace(F.regexp_replace("path", "^file:(//)?", ""), "^" + _regex_escape(prefix), "")
        return files.select(relative.alias(FOLDER_KEY), F.base64("content").alias(upload_field or "file"))
    suffix = source.suffix.lower()
    if suffix == ".parquet":
        return spark.read.parquet(str(source))
    if suffix == ".csv":
        return spark.read.option("header", "true").csv(str(source))
    return spark.read.json(str(source))


def _regex_escape(text: str) -> str:
    return "".join("\\" + c if c in r".^$*+?{}[]\|()" else c for c in text)


def validator(home: str, shipped: str, strict: bool, key: str) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The executors' check: each frame gets a ``_reason`` column, None for valid rows. The check
    and the two functions it shares with the in-process engine travel by value (the executors need
    no mlcore of this version); the item schema is the project's own, from the shipped model's
    ``code/`` folder."""
    from pyspark import cloudpickle

    from mlcore.batch import local

    cloudpickle.register_pickle_by_value(local)
    request_rows, validate = local.request_rows, local.validate

    def check(frames: Iterator[Any]) -> Iterator[Any]:
        import pkgutil

        from pyspark import SparkFiles

        code = os.path.join(SparkFiles.get(shipped), "code")
        if code not in sys.path:
            sys.path.insert(0, code)
        served = pkgutil.resolve_name(home)
        for frame in frames:
            _, _, reasons = validate(served.item, request_rows(frame.drop(columns=[key]), None), strict)
            yield frame.assign(**{REASON: [reason or None for reason in reasons]})

    return check


def score_spark(
    served: ServedModel,
    model_dir: Path,
    source: Path,
    output: Path,
    key: str | None = None,
    master: str | None = None,
) -> Summary:
    """Score ``source`` into the parquet dataset ``output`` on Spark."""
    import mlflow.pyfunc
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from mlcore.lifecycle.registry import load_export

    check_input(source, served.upload_field)
    if source.is_dir():
        key = FOLDER_KEY
    rejects = rejects_path(output)
    if output.exists():
        raise Refused(f"--output {output} exists: remove it or name another")
    model = load_export(model_dir)
    version = str(model.version)
    summary = Summary(model_version=version, input_sha256=fingerprint(source), engine="spark")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    started = time.perf_counter()
    spark = session(master)
    try:
        frame = read(spark, source, served.upload_field)
        if key is None:
            key = ROW
            schema = StructType([*frame.schema.fields, StructField(ROW, LongType(), False)])
            frame = frame.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1])).toDF(schema)
        elif key not in frame.columns:
            raise Refused(f"--key {key!r} is not a column of {source.name} (columns: {', '.join(frame.columns)})")
        spark.sparkContext.addFile(str(model.path.resolve()), recursive=True)
        checked_schema = StructType([*frame.schema.fields, StructField(REASON, StringType(), True)])
        strict = source.suffix.lower() != ".csv"
        check = validator(served.home, model.path.resolve().name, strict, key)
        checked = frame.mapInPandas(check, schema=checked_schema).cache()
        udf = mlflow.pyfunc.spark_udf(spark, str(model.path), env_manager="local")
        wanted = udf.metadata.get_input_schema().input_names()
        inputs = [c for c in wanted if c in frame.columns]
        valid = checked.filter(F.col(REASON).isNull())
        answered = valid.select(F.col(key).alias("key"), udf(F.struct(*inputs)).alias("_answer"))
        answered = answered.select("key", F.lit(version).alias("model_version"), "_answer.*")
        answered = answered.select(
            *[
                F.to_json(c).alias(c) if isinstance(answered.schema[c].dataType, (_complex())) else F.col(c)
                for c in answered.columns
            ]
        )
        bad = checked.filter(F.col(REASON).isNotNull()).select(F.col(key).alias("key"), F.col(REASON).alias("reason"))
        tmp_out, tmp_rejects = (path.with_name(f".{path.name}.tmp") for path in (output, rejects))
        answered.write.mode("overwrite").parquet(str(tmp_out))
        bad.write.mode("overwrite").parquet(str(tmp_rejects))
        summary.rows_in = checked.count()
        summary.scored = spark.read.parquet(str(tmp_out)).count()
        summary.rejected = spark.read.parquet(str(tmp_rejects)).count()
    finally:
        spark.stop()
    if rejects.exists():
        shutil.rmtree(rejects) if rejects.is_dir() else rejects.unlink()
    tmp_rejects.rename(rejects)
    tmp_out.rename(output)  # last: the output appears only when the job is complete
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.output, summary.rejects = str(output), str(rejects)
    summary.peak_rss_mb = peak_rss_mb()
    if summary.scored + summary.rejected != summary.rows_in:
        raise Refused(
            f"internal error: {summary.rows_in} rows in, {summary.scored} scored + {summary.rejected} rejected"
        )
    return summary


def _complex() -> tuple[type, ...]:
    from pyspark.sql.types import ArrayType, MapType, StructType

    return (ArrayType, MapType, StructType)
