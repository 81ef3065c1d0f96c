"""A plain PyTorch training loop for classifiers: one epoch after another, a checkpoint at the end
of each, resume after a kill, early stopping on a validation metric, progress bars, mixed
precision (bfloat16 on a GPU or a CPU that has it natively), DistributedDataParallel under ``torchrun``.

Why a plain loop and not Lightning or Accelerate: the loop is ~200 lines, it trains both the image
CNNs and the transformer (batches of tensors or of dicts), and the suite controls what a
checkpoint holds, when it is written (atomically, rank 0 only) and when a run resumes (same
fingerprint only). Lightning would add its own checkpoint, logger and callback conventions (and a
dependency tied to torch releases) for the same few features; Accelerate gives device placement
and DDP but neither early stopping nor resume policy.

A dataset with ``lengths`` and ``collate`` (token sequences) is batched by similar length
(``mlcore.training.batching``). Batches are ``(inputs, targets)``: ``inputs`` a tensor (``model(inputs)``) or a dict of tensors
(``model(**inputs)``); the model returns logits, a tuple whose first item is the logits, or an
object with ``.logits``.
Repeatability: each epoch re-seeds torch with ``seed + epoch`` and shuffles with a generator of
the same seed, so a run resumed from epoch k's checkpoint trains exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from mlcore.foundation.progress import say
from mlcore.training import device as devices
from mlcore.training import distributed
from mlcore.training.batching import LengthBuckets, is_bucketed

CHECKPOINT = "last.pt"


@dataclass(frozen=True)
class TrainerSettings:
    """The ``trainer`` config group."""

    max_epochs: int = 10
    max_steps: int | None = None  # cap on optimizer steps over the whole run (debug, tests)
    patience: int | None = 3  # epochs without improvement before stopping (None: never stop early)
    monitor: str = "val_accuracy"
    mode: str = "max"
    batch_size: int = 128
    eval_batch_size: int = 512
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    deterministic: bool = True
    threads: int | None = None
    grad_clip: float | None = None
    checkpoint_dir: str | None = None  # None: no checkpoints, no resume
    progress: bool = True

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], **overrides: Any) -> TrainerSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(cfg) - known - {"_target_", "name"}
        if unknown:
            raise ValueError(f"trainer has unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
        values = {k: v for k, v in cfg.items() if k in known}
        return cls(**{**values, **overrides})


@dataclass
class FitResult:
    model: torch.nn.Module  # the best epoch's weights, unwrapped, in eval mode
    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch
    best_epoch: int = -1
    best_score: float = float("nan")
    stopped_early: bool = False
    resumed_from: int | None = None  # the epoch whose checkpoint the run continued from
    seconds: float = 0.0


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def fit(
    model: torch.nn.Module,
    train_set: Dataset[Any],
    val_set: Dataset[Any],
    settings: TrainerSettings,
    *,
    optimizer: Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer],
    scheduler: Callable[..., Any] | None = None,
    loss: Loss = torch.nn.functional.cross_entropy,
    fingerprint: str = "",
    name: str = "train",
) -> FitResult:
    """Train ``model`` and return it with the best validation epoch's weights.

    ``optimizer(params)`` and ``scheduler(optimizer, total_steps=...)`` build them (Hydra partials);
    ``fingerprint`` identifies what is trained: a checkpoint with another fingerprint is ignored.
    """
    started = time.perf_counter()
    devices.set_threads(settings.threads)
    devices.seed_everything(settings.seed, settings.deterministic)
    placement = devices.resolve(settings.device, settings.precision, distributed.local_rank())
    distributed.setup(placement.device)
    model = model.to(placement.device)
    train_loader = _loader(train_set, settings.batch_size, shuffle=True, seed=settings.seed)
    val_loader = _loader(val_set, settings.eval_batch_size, shuffle=False, seed=settings.seed)
    steps_per_epoch = max(1, len(train_loader))
    total = steps_per_epoch * settings.max_epochs
    if settings.max_steps:
        total = min(total, int(settings.max_steps))
    opt = optimizer([p for p in model.parameters() if p.requires_grad])
    sched = scheduler(opt, total_steps=total) if scheduler is not None else None
    scaler = placement.scaler()
    wrapped = distributed.wrap(model, placement.device)
    state = _State()
    ckpt = Path(settings.checkpoint_dir) / CHECKPOINT if settings.checkpoint_dir else None
    fingerprint = f"{fingerprint}|{placement.describe()}"  # a float32 checkpoint never resumes a bf16 run
    resumed = _resume(ckpt, fingerprint, model, opt, sched, scaler, state)
    if distributed.is_main():
        say(name, f"{total} steps on {placement.describe()}")
    if resumed is not None:
        say(name, f"resuming after epoch {resumed + 1} from {ckpt}")
    sign = 1.0 if settings.mode == "max" else -1.0
    stopped_early = False
    for epoch in range(state.epoch + 1, settings.max_epochs):
        if settings.max_steps and state.step >= settings.max_steps:
            break
        torch.manual_seed(settings.seed + epoch)
        _set_epoch(train_loader, epoch, settings.seed)
        train_loss = _train_epoch(wrapped, train_loader, opt, sched, scaler, placement, loss, settings, state, epoch)
        train_loss = sum(distributed.all_gather(train_loss)) / distributed.world_size()  # mean over ranks
        metrics = {"epoch": float(epoch), "train_loss": train_loss, **evaluate(model, val_loader, placement, loss)}
        if settings.monitor not in metrics:
            raise ValueError(f"trainer.monitor={settings.monitor!r} is not one of {sorted(metrics)}")
        score = sign * metrics[settings.monitor]
        improved = state.best_state is None or score > sign * state.best_score
        if improved:
            state.best_score, state.best_epoch, state.bad_epochs = metrics[settings.monitor], epoch, 0
            state.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            state.bad_epochs += 1
        state.epoch = epoch
        state.history.append(metrics)
        if distributed.is_main():
            shown = "  ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k != "epoch")
            say(name, f"epoch {epoch + 1}/{settings.max_epochs}: {shown}" + ("  *" if improved else ""))
            if ckpt is not None:
                _save(ckpt, fingerprint, model, opt, sched, scaler, state)
        if settings.patience is not None and state.bad_epochs >= settings.patience:
            stopped_early = True
            say(name, f"early stop: no {settings.monitor} gain in {settings.patience} epoch(s)")
            break
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    if distributed.is_distributed():
        digests = distributed.all_gather(weights_digest(model))
        if len(set(digests)) != 1:
            raise RuntimeError(f"the {len(digests)} ranks ended with different weights: {digests}")
        if distributed.is_main():
            say(name, f"all {len(digests)} ranks agree on the trained weights ({digests[0][:12]})")
    distributed.barrier()
    return FitResult(
        model=model.eval(),
        history=state.history,
        best_epoch=state.best_epoch,
        best_score=state.best_score,
        stopped_early=stopped_early,
        resumed_from=resumed,
        seconds=time.perf_counter() - started,
    )


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 of a model's parameters and buffers (identical across DDP ranks after training)."""
    import hashlib

    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass
class _State:
    epoch: int = -1  # last completed epoch
    step: int = 0
    best_score: float = float("nan")
    best_epoch: int = -1
    bad_epochs: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    history: list[dict[str, float]] = field(default_factory=list)


def _loader(data: Dataset[Any], batch_size: int, *, shuffle: bool, seed: int) -> DataLoader[Any]:
    if is_bucketed(data):  # sequences: batches of similar length (mlcore.training.batching)
        buckets = LengthBuckets(
            data.lengths,  # type: ignore[attr-defined]
            batch_size,
            shuffle=shuffle,
            seed=seed,
            rank=distributed.rank() if shuffle else 0,  # every rank evaluates on all of validation
            world=distributed.world_size() if shuffle else 1,
        )
        return DataLoader(data, batch_sampler=buckets, collate_fn=data.collate)  # type: ignore[attr-defined]
    sampler = None
    if shuffle and distributed.is_distributed():
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(data, shuffle=True, seed=seed, drop_last=True)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        generator=generator,
        drop_last=shuffle and len(data) > batch_size,  # type: ignore[arg-type]
    )


def _set_epoch(loader: DataLoader[Any], epoch: int, seed: int) -> None:
    for sampler in (loader.sampler, loader.batch_sampler):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
    if loader.generator is not None:
        loader.generator.manual_seed(seed + epoch)


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def logits_of(model: torch.nn.Module, inputs: Any) -> torch.Tensor:
    out = model(**inputs) if isinstance(inputs, Mapping) else model(inputs)
    if isinstance(out, tuple):  # (logits, embedding, ...)
        return out[0]
    return out.logits if hasattr(out, "logits") else out


def _train_epoch(
    model: torch.nn.Module,
    loader: DataLoader[Any],
    opt: torch.optim.Optimizer,
    sched: Any,
    scaler: torch.amp.GradScaler,
    placement: devices.Placement,
    loss_fn: Loss,
    settings: TrainerSettings,
    state: _State,
    epoch: int,
) -> float:
    from tqdm.auto import tqdm

    model.train()
    total, count = 0.0, 0
    show = settings.progress and distributed.is_main()
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{settings.max_epochs}", leave=False, disable=not show, mininterval=1)
    for inputs, targets in bar:
        if settings.max_steps and state.step >= settings.max_steps:
            break
        inputs, targets = to_device(inputs, placement.device), to_device(targets, placement.device)
        with placement.autocast():
            loss = loss_fn(logits_of(model, inputs).float(), targets)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if settings.grad_clip:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        scaler.step(opt)
        scaler.update()
        if sched is not None:
            sched.step()
        state.step += 1
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FloatingPointError(f"training loss is {value} at epoch {epoch + 1}: lower the learning rate")
        total, count = total + value * len(targets), count + len(targets)
        bar.set_postfix(loss=f"{value:.4f}", refresh=False)
    bar.close()
    return total / max(count, 1)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, loader: DataLoader[Any], placement: devices.Placement, loss_fn: Loss
) -> dict[str, float]:
    """Validation loss and accuracy of a classifier over ``loader`` (every rank sees all of it)."""
    model.eval()
    total, correct, count = 0.0, 0, 0
    for inputs, targets in loader:
        inputs, targets = to_device(inputs, placement.device), to_device(targets, placement.device)
        with placement.autocast():
            logits = logits_of(model, inputs).float()
        total += float(loss_fn(logits, targets)) * len(targets)
        correct += int((logits.argmax(1) == targets).sum())
        count += len(targets)
    return {"val_loss": total / max(count, 1), "val_accuracy": correct / max(count, 1)}


def _save(
    path: Path, fingerprint: str, model: torch.nn.Module, opt: Any, sched: Any, scaler: Any, state: _State
) -> None:
    """The checkpoint of the last completed epoch, written whole or not at all."""
    from mlcore.foundation.io import atomic_write

    payload = {
        "fingerprint": fingerprint,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict() if sched is not None else None,
        "scaler": scaler.state_dict(),
        "state": {k: v for k, v in asdict(state).items() if k != "best_state"},
        "best_state": state.best_state,
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _resume(
    path: Path | None, fingerprint: str, model: torch.nn.Module, opt: Any, sched: Any, scaler: Any, state: _State
) -> int | None:
    """Load the checkpoint at ``path`` when it was written for ``fingerprint``; return its epoch."""
    if path is None or not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged checkpoint means a fresh start, said aloud
        say("train", f"ignoring unreadable checkpoint {path} ({type(exc).__name__}); starting afresh")
        return None
    if payload.get("fingerprint") != fingerprint:
        say("train", f"checkpoint {path} is for another configuration; starting afresh")
        return None
    model.load_state_dict(payload["model"])
    opt.load_state_dict(payload["optimizer"])
    if sched is not None and payload["scheduler"] is not None:
        sched.load_state_dict(payload["scheduler"])
    scaler.load_state_dict(payload["scaler"])
    for key, value in payload["state"].items():
        setattr(state, key, value)
    state.best_state = payload["best_state"]
    return state.epoch


def clear_checkpoint(checkpoint_dir: str | os.PathLike[str] | None) -> None:
    """Remove the checkpoint (after the trained model is safely logged)."""
    if checkpoint_dir:
        (Path(checkpoint_dir) / CHECKPOINT).unlink(missing_ok=True)
