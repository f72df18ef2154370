"""AdamW with its own backbone learning rate, and the learning-rate schedule.

The schedule is a pure function of the optimizer step, so resuming only needs the step number:
    lr(step) = base_lr * warmup(step) * decay(step)
    warmup   linear from 1 % to 100 % over `warmup_steps` steps (1 without warm-up)
    decay    step:   1 before epoch `drop_epoch`, 0.1 from it on (the reference's StepLR); a time
                     budget's plan drops at `drop_fraction` (2/3) of its steps (TrainConfig.drop_step)
             cosine: from 1 down to min_lr_ratio over the whole run (after warm-up): epochs x
                     steps per epoch, or a time budget's planned steps
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig


def is_backbone(name: str) -> bool:
    return name.startswith("backbone.")


def param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict]:
    """[transformer + heads at lr, backbone at lr_backbone]; frozen parameters are left out.
    `model` may be wrapped (DistributedDataParallel): names are read without the `module.`."""
    inner = getattr(model, "module", model)
    main, backbone = [], []
    for name, p in inner.named_parameters():
        if not p.requires_grad:
            continue
        (backbone if is_backbone(name) else main).append(p)
    groups = [{"params": main, "lr": cfg.lr, "name": "main"}]
    if backbone:
        groups.append({"params": backbone, "lr": cfg.lr_backbone, "name": "backbone"})
    return groups


def build_optimizer(model: nn.Module, cfg: TrainConfig, extra: list[nn.Parameter] = ()) -> torch.optim.AdamW:
    """`extra`: parameters outside the model trained at the main lr (Group DETR's extra query
    groups), after the model's own."""
    groups = param_groups(model, cfg)
    groups[0]["params"] = groups[0]["params"] + list(extra)
    for g in groups:
        g["initial_lr"] = g["lr"]
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


class LRSchedule:
    """Sets every param group's lr to initial_lr * factor(step) (see the module docstring)."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
        self.optimizer = optimizer
        self.cfg = cfg
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = cfg.epochs * steps_per_epoch
        self.planned_steps: int | None = None  # a time budget's plan (None: whole epochs)
        self.step_count = 0

    def refit(self, cfg: TrainConfig, planned_steps: int | None = None) -> None:
        """A new length of run (the time budget's fit): the schedule spans `planned_steps` when
        given (the last epoch may end part-way), else the new number of whole epochs."""
        self.cfg = cfg
        self.planned_steps = planned_steps
        self.total_steps = planned_steps or cfg.epochs * self.steps_per_epoch

    def factor(self, step: int) -> float:
        """Multiplier of the initial lr for optimizer step `step` (0-based)."""
        cfg = self.cfg
        warm = 1.0
        if cfg.warmup_steps and step < cfg.warmup_steps:
            warm = 0.01 + 0.99 * step / cfg.warmup_steps
        if cfg.schedule == "step":
            decay = 0.1 if step >= cfg.drop_step(self.steps_per_epoch, self.planned_steps) else 1.0
        else:
            span = max(1, self.total_steps - cfg.warmup_steps)
            t = min(1.0, max(0.0, (step - cfg.warmup_steps) / span))
            decay = cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
        return warm * decay

    def apply(self, step: int) -> None:
        """Set the learning rates for optimizer step `step` (0-based)."""
        self.step_count = step
        f = self.factor(step)
        for g in self.optimizer.param_groups:
            g["lr"] = g["initial_lr"] * f

    def lr_of(self, group_name: str) -> float:
        for g in self.optimizer.param_groups:
            if g.get("name") == group_name:
                return float(g["lr"])
        return 0.0

    def state_dict(self) -> dict:
        return {"step": self.step_count, "steps_per_epoch": self.steps_per_epoch,
                "schedule": self.cfg.schedule}

    def load_state_dict(self, state: dict) -> None:
        self.apply(int(state["step"]))
