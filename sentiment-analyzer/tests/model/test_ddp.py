"""`make train-ddp`'s engine: the train stage under torchrun with two CPU processes (gloo) on the
sample. Both ranks must end with the same weights (the loop checks and says so) and the run is
logged to MLflow once, by rank 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def test_two_cpu_ranks_agree_and_log_one_run(trained: dict[str, Any]) -> None:
    import mlflow

    root, cfg = Path(trained["root"]), trained["cfg"]
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(cfg.project.experiment)
    before = {r.info.run_id for r in client.search_runs([experiment.experiment_id])}
    env = {
        **os.environ,
        "ML_PROJECT_ROOT": str(root),
        "ML_STORE_ROOT": str(root),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[2] / "src"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "sentiment_analyzer.pipeline.train"]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "all 2 ranks agree on the trained weights" in proc.stderr
    new = [r for r in client.search_runs([experiment.experiment_id]) if r.info.run_id not in before]
    assert len(new) == 1, [r.info.run_name for r in new]
    assert new[0].data.metrics["val_accuracy"] > 0
