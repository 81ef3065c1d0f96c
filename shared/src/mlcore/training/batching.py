"""Batches of sequences of similar length: less padding, so a transformer trains and scores
several times faster on short texts than with every batch padded to the longest possible.

A dataset opts in by having ``lengths`` (one per item) and ``collate`` (a list of items -> one
batch); ``mlcore.training.loop.fit`` then batches it with ``LengthBuckets``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler


class LengthBuckets(Sampler[list[int]]):
    """Index batches of similar length.

    Shuffled (training): the items are shuffled, cut into pools of ``pool`` batches, each pool is
    sorted by length and cut into batches, and the batches are shuffled; seeded with
    ``seed + epoch`` (``set_epoch``), so a resumed run sees the same batches. Not shuffled
    (evaluation): batches of the items sorted by length. Under DDP each of ``world`` ranks takes
    every ``world``-th batch (and all ranks take the same number).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        pool: int = 50,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size, self.shuffle, self.seed, self.pool = int(batch_size), shuffle, int(seed), int(pool)
        self.rank, self.world = int(rank), int(world)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def batches(self) -> list[np.ndarray]:
        n, size = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i : i + size] for i in range(0, n, size)]
        rng = np.random.default_rng(self.seed + self.epoch)
        order = rng.permutation(n)
        out: list[np.ndarray] = []
        for start in range(0, n, size * self.pool):
            chunk = order[start : start + size * self.pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            out += [chunk[i : i + size] for i in range(0, len(chunk), size)]
        return [out[i] for i in rng.permutation(len(out))]

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.batches()
        if self.world > 1:
            per_rank = len(batches) // self.world
            batches = batches[self.rank :: self.world][:per_rank]
        return iter([b.tolist() for b in batches])

    def __len__(self) -> int:
        n = -(-len(self.lengths) // self.batch_size)
        return n // self.world if self.world > 1 else n


def is_bucketed(data: Any) -> bool:
    return hasattr(data, "lengths") and hasattr(data, "collate")
