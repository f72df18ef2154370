"""Batching: images of different sizes zero-padded bottom/right with a padding mask."""
from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from ..infer.preprocess import batch_images


class Batch(NamedTuple):
    images: Tensor  # [B, 3, H, W] normalised, zero-padded
    mask: Tensor  # [B, H, W] bool, True = padding
    targets: list  # per image: "labels" [N_i] int64, "boxes" [N_i, 4] cxcywh normalised, ...

    def to(self, device, non_blocking: bool = False) -> "Batch":
        targets = [{k: v.to(device, non_blocking=non_blocking) if isinstance(v, Tensor) else v
                    for k, v in t.items()} for t in self.targets]
        return Batch(self.images.to(device, non_blocking=non_blocking),
                     self.mask.to(device, non_blocking=non_blocking), targets)


def collate(samples: list[tuple[Tensor, dict]]) -> Batch:
    """[(image [3, h_i, w_i], target)] -> Batch."""
    images, mask = batch_images([image for image, _ in samples])
    return Batch(images, mask, [target for _, target in samples])
