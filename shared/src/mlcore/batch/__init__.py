"""Batch scoring (``make score``): a file or a folder scored with the served model, every row
accounted for.

- ``inputs``: what a job reads (parquet, CSV, JSON lines, a folder of uploads) and its fingerprint.
- ``local``: the in-process engine, bounded chunks, resumable and atomic (the default).
- ``spark``: the same registered model on Spark through ``mlflow.pyfunc.spark_udf`` (``ENGINE=spark``).
- ``__main__``: the command line, and the MLflow run each job records.
"""

from mlcore.batch.inputs import Refused
from mlcore.batch.local import Summary, score

__all__ = ["Refused", "Summary", "score"]
