"""The order samples are seen in: a permutation that depends on (seed, epoch) only, split across
distributed ranks, and able to start part-way through an epoch (for exact resume)."""
from __future__ import annotations

import math
from typing import Iterator

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """Like `DistributedSampler`: each epoch a fresh permutation of range(n) (or range(n) without
    `shuffle`), padded by repeating its start to a multiple of `world_size`; rank r takes every
    `world_size`-th index from r. `set_epoch(e, skip=k)` starts the epoch after its first k
    samples of this rank, which a resumed run has already trained on."""

    def __init__(self, n: int, *, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        assert n > 0, "an empty dataset has nothing to sample"
        assert 0 <= rank < world_size, f"rank {rank} outside world of {world_size}"
        self.n = n
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.skip = 0

    @property
    def per_rank(self) -> int:
        """Samples each rank sees in a full epoch."""
        return math.ceil(self.n / self.world_size)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch = epoch
        self.skip = skip

    def order(self, epoch: int) -> list[int]:
        """This rank's full order for `epoch`."""
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            indices = torch.randperm(self.n, generator=g).tolist()
        else:
            indices = list(range(self.n))
        total = self.per_rank * self.world_size
        indices += (indices * math.ceil(total / self.n))[: total - self.n]  # pad
        return indices[self.rank:total:self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.order(self.epoch)[self.skip:])

    def __len__(self) -> int:
        return self.per_rank - self.skip
