"""The training loop: learns, stops early, checkpoints, resumes after kill -9 exactly as an
uninterrupted run, and trains under torchrun with two CPU processes that agree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from mlcore.training import device as devices  # noqa: E402
from mlcore.training.loop import CHECKPOINT, TrainerSettings, fit  # noqa: E402

HERE = Path(__file__).parent
SCRIPT = HERE / "train_script.py"
sys.path.insert(0, str(HERE))
import train_script  # noqa: E402


def test_fit_learns_and_returns_the_best_epoch(tmp_path: Path) -> None:
    result = train_script.run(tmp_path, epochs=6)
    assert [row["epoch"] for row in result.history] == [0, 1, 2, 3, 4, 5]
    best = max(result.history, key=lambda row: row["val_accuracy"])
    assert result.best_score == best["val_accuracy"] >= 0.9
    assert result.best_epoch == int(best["epoch"])
    assert not result.model.training


def test_early_stopping_stops_after_patience_epochs(tmp_path: Path) -> None:
    train, val = train_script.data()
    settings = TrainerSettings(max_epochs=20, patience=2, batch_size=32, device="cpu", progress=False)
    frozen = partial(torch.optim.SGD, lr=0.0)  # nothing improves after the first epoch
    result = fit(train_script.model(), train, val, settings, optimizer=frozen)
    assert result.stopped_early
    assert len(result.history) == 3


def test_resume_after_kill_continues_and_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    epochs = 4
    whole = train_script.run(tmp_path / "whole", epochs)
    killed = tmp_path / "killed"
    killed.mkdir()
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(killed), str(epochs), "0.004"], env=env)
    checkpoint = killed / "ckpt" / CHECKPOINT
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # well into the next epoch
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert checkpoint.exists()
    resumed = train_script.run(killed, epochs)
    assert resumed.resumed_from is not None and resumed.resumed_from < epochs - 1
    assert train_script.digest(resumed.model) == train_script.digest(whole.model)
    assert [r["val_loss"] for r in resumed.history] == pytest.approx([r["val_loss"] for r in whole.history])


def test_checkpoint_of_another_configuration_is_ignored(tmp_path: Path) -> None:
    train_script.run(tmp_path, epochs=2)
    train, val = train_script.data()
    settings = TrainerSettings(max_epochs=2, batch_size=16, device="cpu", checkpoint_dir=str(tmp_path / "ckpt"))
    result = fit(
        train_script.model(), train, val, settings, optimizer=partial(torch.optim.SGD, lr=0.1), fingerprint="other"
    )
    assert result.resumed_from is None
    assert len(result.history) == 2


def test_device_and_precision_resolve_with_clear_errors() -> None:
    cpu = devices.resolve("cpu", "auto")
    assert cpu.device.type == "cpu" and cpu.amp_dtype is None
    assert devices.resolve("cpu", "16-mixed").amp_dtype is None  # mixed precision only on GPU
    with pytest.raises(ValueError, match="trainer.device='tpu'"):
        devices.resolve("tpu")
    if not torch.cuda.is_available():
        assert devices.resolve("auto").device.type == "cpu"
        with pytest.raises(ValueError, match="no CUDA device"):
            devices.resolve("cuda")


def test_unknown_trainer_key_is_named() -> None:
    with pytest.raises(ValueError, match="max_epoch"):
        TrainerSettings.from_config({"max_epoch": 3})


@pytest.mark.slow
def test_torchrun_two_cpu_processes_agree(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--standalone",
        str(SCRIPT),
        str(tmp_path),
        "3",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    assert ranks[0]["digest"] == ranks[1]["digest"]
    assert len(ranks[0]["history"]) == 3
