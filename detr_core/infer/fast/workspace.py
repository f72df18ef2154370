"""Scratch tensors kept from one forward pass to the next.

A fresh tensor of more than a few megabytes is a fresh memory mapping whose pages fault in on first
touch: at 800x1066 a ResNet-50's stem and stage-1 tensors (14-55 MB each) cost more in page faults
than the arithmetic that fills them. A `Workspace` hands out views into buffers it keeps, one per
key, grown to the largest size asked for. The caller owns the lifetimes: a key's view is valid until
the key is asked for again. Not for sharing between threads (give each thread its own).
"""
from __future__ import annotations

import math
from typing import Hashable, Sequence

import torch
from torch import Tensor


class Workspace:
    def __init__(self) -> None:
        self._buffers: dict[Hashable, Tensor] = {}

    def get(self, key: Hashable, shape: Sequence[int]) -> Tensor:
        """A contiguous fp32 tensor of `shape` (contents undefined) in the buffer named `key`."""
        numel = math.prod(shape)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.numel() < numel:
            buffer = self._buffers[key] = torch.empty(numel)
        return buffer[:numel].view(*shape)

    def channels_last(self, key: Hashable, size: Sequence[int]) -> Tensor:
        """An [N, C, H, W] tensor in channels-last memory format from the buffer named `key`."""
        n, c, h, w = size
        return self.get(key, (n, h, w, c)).permute(0, 3, 1, 2)

    @property
    def nbytes(self) -> int:
        return sum(b.numel() * b.element_size() for b in self._buffers.values())
