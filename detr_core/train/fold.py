"""How the backbone's frozen batch norm runs while training, without changing parameters,
state-dict keys or (for folding) outputs.

Folding (fine-tuning, the default): frozen batch norm after a convolution is folded into it at
forward time: the convolution runs
with weight * scale and bias shift (one fused kernel) instead of conv, then x * scale + shift (two
extra passes over the activation forward and two backward). The conv weight stays the trained
parameter; gradients flow through the scaling. Optionally the backbone runs in channels-last
memory layout, which oneDNN's CPU convolutions prefer.

Batch statistics (training a ResNet from scratch): no statistics exist to freeze yet, and a deep
ResNet trained without normalisation blows its activations up (its features grow by orders of
magnitude and the transformer stops seeing positions), so each batch norm normalises with the
batch's own statistics, as nn.BatchNorm2d does in training, and keeps their running averages in
its buffers. Evaluation and the saved model use those averages, frozen: an ordinary DETR.

    with folded_for_training(model) as fold:          # or batch_stats=True
        ... train ...
        with fold.suspended():   # the plain modules back, e.g. to copy the model for inference
            ...
Modules are changed in place (their classes swapped) and restored on exit; parameters and
buffers are never copied, so an optimizer built inside the block keeps working after it.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..model.backbone import FrozenBatchNorm2d


class _ConvFrozenBN(nn.Conv2d):
    """A Conv2d computing bn(conv(x)) in one convolution; `_frozen_bn` is not a submodule."""

    def forward(self, x: Tensor) -> Tensor:
        bn = self._frozen_bn  # its buffers, as FrozenBatchNorm2d.scale_and_shift reads them
        scale = bn.weight * (bn.running_var + bn.eps).rsqrt()  # [C_out]
        shift = bn.bias - bn.running_mean * scale  # [C_out]
        weight = self.weight * scale.reshape(-1, 1, 1, 1)
        bias = shift if self.bias is None else self.bias * scale + shift
        return self._conv_forward(x, weight, bias)


class _FoldedAway(nn.Module):
    """A frozen batch norm whose work its convolution does: passes x through, keeps its buffers."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class _BatchStatsBN(nn.Module):
    """A FrozenBatchNorm2d normalising with batch statistics in training mode (running averages
    updated with momentum 0.1, as nn.BatchNorm2d), with its running averages in evaluation mode.
    Its weight and bias stay fixed buffers."""

    momentum = 0.1

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, H, W] -> [B, C, H, W]."""
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training, momentum=self.momentum, eps=self.eps)


def _pairs(module: nn.Module) -> Iterator[tuple[nn.Conv2d, FrozenBatchNorm2d]]:
    """(conv, bn) pairs where bn directly follows conv, as fuse.fold_frozen_batchnorm finds them:
    `convN`/`bnN` siblings and consecutive items of an nn.Sequential."""
    for child in module.children():
        yield from _pairs(child)
    if isinstance(module, nn.Sequential):
        items = list(module)
        for a, b in zip(items, items[1:]):
            if type(a) is nn.Conv2d and type(b) is FrozenBatchNorm2d:
                yield a, b
        return
    for name, child in module.named_children():
        if type(child) is nn.Conv2d and name.startswith("conv"):
            bn = getattr(module, "bn" + name[len("conv"):], None)
            if type(bn) is FrozenBatchNorm2d:
                yield child, bn


class TrainingFold:
    def __init__(self, model: nn.Module, channels_last: bool, batch_stats: bool = False):
        self.backbone = model.backbone
        self.channels_last = channels_last
        self.batch_stats = batch_stats
        self.norms = [m for m in self.backbone.modules() if type(m) is FrozenBatchNorm2d]
        self.pairs = [] if batch_stats else list(_pairs(self.backbone))
        self.active = False

    def apply(self) -> None:
        if self.batch_stats:
            for bn in self.norms:
                bn.__class__ = _BatchStatsBN
        for conv, bn in self.pairs:
            object.__setattr__(conv, "_frozen_bn", bn)
            conv.__class__ = _ConvFrozenBN
            bn.__class__ = _FoldedAway
        if self.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        self.active = True

    def restore(self) -> None:
        for bn in self.norms:
            bn.__class__ = FrozenBatchNorm2d
        for conv, bn in self.pairs:
            conv.__class__ = nn.Conv2d
            bn.__class__ = FrozenBatchNorm2d
            conv.__dict__.pop("_frozen_bn", None)
        if self.channels_last:
            self.backbone.to(memory_format=torch.contiguous_format)
        self.active = False

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        was = self.active
        if was:
            self.restore()
        try:
            yield
        finally:
            if was:
                self.apply()


@contextlib.contextmanager
def folded_for_training(model: nn.Module, *, enabled: bool = True, channels_last: bool = False,
                        batch_stats: bool = False) -> Iterator[TrainingFold]:
    fold = TrainingFold(model, channels_last, batch_stats)
    if enabled:
        fold.apply()
    try:
        yield fold
    finally:
        if fold.active:
            fold.restore()
