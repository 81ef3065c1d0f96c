"""The training loop: learns, stops early, checkpoints, resumes after kill -9 exactly as an
uninterrupted run, and trains under torchrun with two CPU processes that agree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from mlcore.foundation.waiting import wait_until  # noqa: E402
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
    wait_until(
        lambda: checkpoint.exists() or proc.poll() is not None, "the first epoch's checkpoint", every=0.02, timeout=120
    )
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
    cpu = devices.resolve("cpu", "auto")  # bfloat16 where the CPU has it natively, else float32
    assert cpu.device.type == "cpu" and cpu.amp_dtype == (torch.bfloat16 if devices.cpu_has_native_bf16() else None)
    assert devices.resolve("cpu", "32").amp_dtype is None
    assert devices.resolve("cpu", "bf16-mixed").amp_dtype is torch.bfloat16
    assert devices.resolve("cpu", "16-mixed").amp_dtype is None  # float16 autocast only on GPU
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


def test_length_buckets_group_similar_lengths_and_repeat_per_epoch() -> None:
    from mlcore.training.batching import LengthBuckets

    rng = __import__("random").Random(0)
    lengths = [rng.randint(1, 100) for _ in range(1000)]
    buckets = LengthBuckets(lengths, batch_size=10, seed=3, pool=10)
    epoch0 = list(buckets)
    assert sorted(i for batch in epoch0 for i in batch) == list(range(1000))  # every item once
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch0) / len(epoch0)
    assert spread < 15, f"batches mix lengths (mean spread {spread:.1f} of 100)"
    assert list(buckets) == epoch0  # same epoch, same batches (a resumed run sees them again)
    buckets.set_epoch(1)
    assert list(buckets) != epoch0
    ranks = [list(LengthBuckets(lengths, 10, seed=3, rank=r, world=2)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 50 and not {i for b in ranks[0] for i in b} & {
        i for b in ranks[1] for i in b
    }
    ordered = list(LengthBuckets(lengths, 10, shuffle=False))
    flat = [lengths[i] for batch in ordered for i in batch]
    assert flat == sorted(lengths)


def test_fit_batches_sequences_by_length_with_their_collate(tmp_path: Path) -> None:
    class Sequences(torch.utils.data.Dataset):
        def __init__(self, n: int) -> None:
            g = torch.Generator().manual_seed(0)
            self.lengths = torch.randint(1, 30, (n,), generator=g).tolist()
            self.targets = [int(length > 15) for length in self.lengths]
            self.widths: list[int] = []

        def __len__(self) -> int:
            return len(self.lengths)

        def __getitem__(self, i: int) -> tuple[int, int]:
            return self.lengths[i], self.targets[i]

        def collate(self, rows: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
            width = max(r[0] for r in rows)
            self.widths.append(width)
            x = torch.zeros(len(rows), width)
            for j, (length, _) in enumerate(rows):
                x[j, :length] = 1.0
            return x.sum(1, keepdim=True) / 30, torch.tensor([r[1] for r in rows])

    train, val = Sequences(400), Sequences(100)
    settings = TrainerSettings(max_epochs=2, batch_size=20, device="cpu", progress=False, patience=None)
    model = torch.nn.Sequential(torch.nn.Linear(1, 2))
    result = fit(model, train, val, settings, optimizer=partial(torch.optim.Adam, lr=0.1))
    assert len(result.history) == 2
    assert len(train.widths) == 2 * 20 and val.widths  # batches came from the dataset's collate
