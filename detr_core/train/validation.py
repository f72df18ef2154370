"""The validation loss of a run: the training criterion on the validation set, in evaluation mode.

The validation set's own transform decides the resolution: train/setup.load_data gives it the
run's evaluation size (the size the model is trained and scored at), so the loss is comparable to
the training loss.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from . import distributed
from ..data.batching import collate
from ..data.dataset import CocoDetection
from ..model.criterion import SetCriterion
from .step import float_terms


@torch.no_grad()
def validation_loss(model: nn.Module, criterion: SetCriterion, val: CocoDetection, *, device: torch.device,
                    batch_size: int, num_workers: int, autocast) -> dict[str, float]:
    """The loss terms on `val`: evaluation mode, its transform (no augmentation), one query group,
    each batch normalised by its own boxes; means over all images of all processes (each process
    scores its share). Leaves the model in evaluation mode."""
    info = distributed.current()
    mine = Subset(val, range(info.rank, len(val), info.world_size))
    loader = DataLoader(mine, batch_size=batch_size, collate_fn=collate, num_workers=num_workers)
    model.eval()
    sums: dict[str, float] = {}
    images = 0
    for batch in loader:
        batch = batch.to(device, non_blocking=True)
        with autocast:
            outputs = model(batch.images, batch.mask, aux=model.aux_loss)  # as in training
            boxes = float(sum(len(t["labels"]) for t in batch.targets))
            losses = criterion(outputs, batch.targets, num_boxes=max(boxes, 1.0))
        n = len(batch.targets)
        for k, v in float_terms(losses).items():
            sums[k] = sums.get(k, 0.0) + v * n
        images += n
    if info.world_size > 1:
        parts = distributed.all_gather_object((sums, images))
        images = sum(n for _, n in parts)
        sums = {k: sum(s.get(k, 0.0) for s, _ in parts) for k in parts[0][0]}
    return {k: v / images for k, v in sums.items()} if images else {}
