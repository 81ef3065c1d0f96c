"""A tiny training run for the training-loop tests, runnable as a script (kill -9, torchrun).

``python train_script.py OUT_DIR EPOCHS [SLEEP_S]``: trains a small classifier on synthetic data
with checkpoints in OUT_DIR/ckpt and writes OUT_DIR/rank<k>.json (weights digest and history).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from functools import partial
from pathlib import Path

import torch
from mlcore.training import distributed
from mlcore.training.loop import TrainerSettings, fit
from torch.utils.data import Dataset, TensorDataset


class Slow(Dataset):
    """Wraps a dataset and sleeps on each item, so a test can kill the run mid-epoch."""

    def __init__(self, data: Dataset, sleep_s: float) -> None:
        self.data, self.sleep_s = data, sleep_s

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
        time.sleep(self.sleep_s)  # deliberate: a slow loader, so the test can kill the run mid-way
        return self.data[i]


def data(n: int = 256, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    cut = int(n * 0.75)
    return TensorDataset(x[:cut], y[:cut]), TensorDataset(x[cut:], y[cut:])


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(16, 2))


def digest(net: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, value in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def run(out: Path, epochs: int, sleep_s: float = 0.0, **overrides: object):  # type: ignore[no-untyped-def]
    train, val = data()
    settings = TrainerSettings(
        max_epochs=epochs,
        batch_size=16,
        device="cpu",
        patience=None,
        checkpoint_dir=str(out / "ckpt"),
        progress=False,
        **overrides,  # type: ignore[arg-type]
    )
    result = fit(
        model(),
        Slow(train, sleep_s) if sleep_s else train,
        val,
        settings,
        optimizer=partial(torch.optim.SGD, lr=0.1, momentum=0.9),
        scheduler=partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1),
        fingerprint="tiny-v1",
    )
    record = {"digest": digest(result.model), "history": result.history, "resumed_from": result.resumed_from}
    (out / f"rank{distributed.rank()}.json").write_text(json.dumps(record))
    distributed.teardown()
    return result


if __name__ == "__main__":
    run(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 0.0)
