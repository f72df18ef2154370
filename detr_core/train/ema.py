"""An exponential moving average of a model's weights (as RF-DETR and detrex train), kept as a
dict of tensors beside the model, never as a second module.

    ema = WeightsEMA(model, decay=0.99, tau=50)
    ... after every optimizer step: ema.update(model)
    with ema.swapped_in(model):     # the model holds the averaged weights inside the block
        evaluate(model); save(model)

Every floating-point entry of the state dict is averaged (parameters and batch-norm statistics);
integer buffers are copied. The decay warms up as decay * (1 - exp(-updates / tau)), so the first
updates follow the weights closely. Keys are the model's own: the averaged weights are an
ordinary DETR in the official layout.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch
from torch import nn


class WeightsEMA:
    def __init__(self, model: nn.Module, decay: float, tau: float = 50.0):
        assert 0 < decay < 1, f"EMA decay must be in (0, 1), got {decay}"
        self.decay = decay
        self.tau = tau
        self.updates = 0
        self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def current_decay(self) -> float:
        return self.decay * (1 - math.exp(-self.updates / self.tau)) if self.tau > 0 else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.current_decay()
        for k, v in model.state_dict().items():
            mine = self.weights[k]
            if mine.is_floating_point():
                mine.mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                mine.copy_(v)

    @contextlib.contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[nn.Module]:
        """The model holds the averaged weights inside the block, its own again after it."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.weights, strict=True)
        try:
            yield model
        finally:
            model.load_state_dict(own, strict=True)

    def state_dict(self) -> dict:
        return {"weights": {k: v.cpu() for k, v in self.weights.items()}, "updates": self.updates,
                "decay": self.decay, "tau": self.tau}

    def load_state_dict(self, state: dict) -> None:
        device = next(iter(self.weights.values())).device
        self.weights = {k: v.to(device) for k, v in state["weights"].items()}
        self.updates = int(state["updates"])
