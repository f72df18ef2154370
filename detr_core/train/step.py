"""One optimizer step: `accumulate` forward/backward passes, gradient clipping, AdamW, the lr
schedule, and the EMA of the weights.

With Group DETR (cfg.groups = K > 1) the forward runs K query groups (train/groups.py) and the
criterion sees each image's targets K times; with K = 1 it is the reference step exactly.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from . import distributed
from ..data.batching import Batch
from ..errors import NonFiniteLossError
from ..model.criterion import SetCriterion
from .config import TrainConfig
from .ema import WeightsEMA
from .groups import repeat_targets
from .optim import LRSchedule


@dataclass(frozen=True)
class StepOutcome:
    terms: dict[str, float]  # loss terms, means over the micro-batches and processes
    grad_norm: float  # before clipping
    lr: float  # of the step just done
    lr_backbone: float
    images: int  # on this process


def float_terms(losses: dict[str, torch.Tensor]) -> dict[str, float]:
    return {k: float(v.detach()) for k, v in losses.items()}


def non_finite_message(step: int, epoch: int, terms: dict[str, float]) -> str:
    bad = [k for k, v in terms.items() if not math.isfinite(v)]
    shown = ", ".join(f"{k}={terms[k]:.4g}" for k in ["loss"] + [k for k in sorted(terms) if k != "loss"][:8])
    return (f"non-finite loss at step {step} (epoch {epoch}): {', '.join(bad) or 'loss'} not finite "
            f"({shown}); lower --lr or check the data; the last good checkpoint is kept")


class TrainStep:
    """Runs optimizer steps of `forward_model` (the DETR, its GroupedDETR, or their DDP wrapper)."""

    def __init__(self, cfg: TrainConfig, forward_model: nn.Module, criterion: SetCriterion,
                 optimizer: torch.optim.Optimizer, schedule: LRSchedule, autocast, scaler,
                 device: torch.device, ddp, ema: WeightsEMA | None, ema_model: nn.Module):
        self.cfg = cfg
        self.forward_model = forward_model
        self.criterion = criterion
        self.optimizer = optimizer
        self.schedule = schedule
        self.autocast = autocast
        self.scaler = scaler
        self.device = device
        self.ddp = ddp
        self.ema = ema
        self.ema_model = ema_model  # the DETR whose weights the EMA follows

    def check_outputs(self, outputs: dict, step: int, epoch: int) -> None:
        """Non-finite predictions make every loss term non-finite (and the matcher fail)."""
        bad = [k for k in ("pred_logits", "pred_boxes") if not torch.isfinite(outputs[k]).all()]
        if distributed.any_process(bool(bad), self.device):
            raise NonFiniteLossError(
                f"non-finite loss at step {step} (epoch {epoch}): the model's outputs "
                f"are not finite ({', '.join(bad) or 'on another process'}), so no loss term is; lower "
                "--lr or check the data; the last good checkpoint is kept")

    def run(self, micro: list[Batch], step: int, epoch: int) -> StepOutcome:
        """One optimizer step over the micro-batches; `step` is the 0-based index of this step,
        `epoch` the 0-based epoch (both for messages). Sets the lr of step + 1 afterwards."""
        sums: dict[str, float] = {}
        images = 0
        groups = self.cfg.groups
        for i, batch in enumerate(micro):
            batch = batch.to(self.device, non_blocking=True)
            images += len(batch.targets)
            sync = contextlib.nullcontext() if (self.ddp is None or i == len(micro) - 1) else self.ddp.no_sync()
            with sync:
                with self.autocast:
                    outputs = self.forward_model(batch.images, batch.mask)  # [B*K, Q, ...]
                    self.check_outputs(outputs, step + 1, epoch + 1)
                    targets = batch.targets if groups == 1 else repeat_targets(batch.targets, groups)
                    losses = self.criterion(outputs, targets)
                terms = float_terms(losses)
                if distributed.any_process(not math.isfinite(terms["loss"]), self.device):
                    raise NonFiniteLossError(non_finite_message(step + 1, epoch + 1, terms))
                loss = losses["loss"] / len(micro)
                (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v / len(micro)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        max_norm = self.cfg.clip_max_norm if self.cfg.clip_max_norm > 0 else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        lr, lr_backbone = self.schedule.lr_of("main"), self.schedule.lr_of("backbone")
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.apply(step + 1)
        if self.ema is not None:
            self.ema.update(self.ema_model)
        terms = distributed.mean_over_processes(sums, self.device)
        return StepOutcome(terms, grad_norm, lr, lr_backbone, images)
