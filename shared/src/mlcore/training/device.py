"""Where and how a network runs: device ``auto`` (CUDA when present, else CPU); precision ``auto``
(bfloat16 mixed precision on a GPU, and on a CPU with native bfloat16 instructions, else float32);
seeded and deterministic."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "32", "16-mixed", "bf16-mixed")


@dataclass(frozen=True)
class Placement:
    """The resolved device and autocast dtype (``None``: full precision)."""

    device: torch.device
    amp_dtype: torch.dtype | None

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def describe(self) -> str:
        """Device type and precision, e.g. ``cpu bfloat16`` (for run logs and checkpoint fingerprints)."""
        return f"{self.device.type} {str(self.amp_dtype or torch.float32).removeprefix('torch.')}"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.amp_dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype):
            yield

    def scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, enabled only for float16 (bfloat16 and float32 need none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)


def resolve(device: str = "auto", precision: str = "auto", local_rank: int | None = None) -> Placement:
    """``device`` in ``DEVICES`` and ``precision`` in ``PRECISIONS`` -> a placement; a clear error
    when CUDA is asked for and absent."""
    if device not in DEVICES:
        raise ValueError(f"trainer.device={device!r} is not one of {', '.join(DEVICES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"trainer.precision={precision!r} is not one of {', '.join(PRECISIONS)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("trainer.device=cuda but no CUDA device is visible; use trainer.device=auto or cpu")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        index = local_rank if local_rank is not None else 0
        torch.cuda.set_device(index)
        dev = torch.device("cuda", index)
    else:
        dev = torch.device("cpu")
    if precision == "auto":
        if use_cuda:
            precision = "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
        else:
            precision = "bf16-mixed" if cpu_has_native_bf16() else "32"
    dtype = {"32": None, "16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}[precision]
    if dtype is torch.float16 and not use_cuda:
        dtype = None  # float16 autocast is a GPU feature; a CPU trains such a run in float32
    return Placement(dev, dtype)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX): there mixed precision
    trains 1.3-2x faster than float32 (``benchmarks/precision.py``); elsewhere it would be emulated."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; with ``deterministic``, ask torch for deterministic kernels
    (bit-for-bit repeatable on CPU; on GPU as far as cuDNN allows)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    else:  # the fastest kernels cuDNN finds (on GPU, deterministic ones can cost several times the time)
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark = True


def set_threads(threads: int | None) -> None:
    """Intra-op threads for CPU work (``None``: torch's default, one per core)."""
    if threads:
        torch.set_num_threads(int(threads))
