"""Training hyper-parameters: one frozen dataclass, saved in every checkpoint of a run.

Defaults are the reference fine-tuning recipe (AdamW 1e-4, backbone 1e-5, weight decay 1e-4,
gradient clipping 0.1, step LR drop). The GUI builds variants with `dataclasses.replace`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..model.criterion import CriterionConfig
from ..model.matcher import MatcherConfig

SCHEDULES = ("step", "cosine")
AUGMENTS = ("reference", "resize")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    batch_size: int = 2  # images per process in one forward pass
    accumulate: int = 1  # forward passes (micro-batches) per optimizer step
    lr: float = 1e-4  # transformer, heads, input projection
    lr_backbone: float = 1e-5  # ResNet layer2..4 (the stem and layer1 never train)
    weight_decay: float = 1e-4  # AdamW, on every parameter (as the reference)
    clip_max_norm: float = 0.1  # gradient clipping (total norm); 0 turns it off
    schedule: str = "step"  # "step": x0.1 after `lr_drop` epochs; "cosine": down to min_lr_ratio
    lr_drop: int | None = None  # step schedule: epochs before the drop (None: at `drop_fraction`)
    drop_fraction: float = 2 / 3  # step schedule without lr_drop: the drop at this fraction of the run
    min_lr_ratio: float = 0.01  # cosine schedule: final lr / initial lr
    warmup_steps: int = 0  # optimizer steps of linear warm-up from 1 % of the lr
    freeze_backbone: bool = False  # train only the transformer and heads
    train_stem: bool = False  # also train the ResNet stem and layer1 (frozen in the reference,
    #                           whose backbone comes pretrained; from scratch they must learn)
    batch_stats: bool = False  # backbone batch norm uses batch statistics while training, keeping
    #                            running averages (from scratch; see train_fold.py)
    amp: bool = True  # mixed precision on CUDA (bf16 where supported, else fp16 + loss scaling)
    resolution: str = "auto"  # data/transforms.RESOLUTIONS name; auto: the model's min_size
    hflip: bool = True  # random horizontal flips (turn off for left/right-sensitive classes)
    augment: str = "reference"  # "reference": random scales and crops (data/transforms.py);
    #                             "resize": every image at the evaluation size (flips only)
    dropout: float | None = None  # the transformer's dropout for this run (None: the model's own)
    num_workers: int = 2  # data-loader worker processes (0: load in the training process)
    seed: int = 42  # model init (from scratch), data order, augmentation, dropout
    eval_every: int = 1  # validate every N epochs (and always after the last); 0: only at the end
    groups: int = 1  # Group DETR query groups while training (train/groups.py); 1: the reference
    group_init: str = "copy"  # extra groups from a checkpoint: "copy" (its queries + noise) | "fresh"
    ema_decay: float = 0.0  # EMA of the weights (train/ema.py), evaluated and saved; 0: off
    ema_tau: float = 50.0  # EMA warm-up: decay * (1 - exp(-updates / tau))
    time_budget_s: float | None = None  # train for this long (train/budget.py): steps and eval
    #                                     schedule fitted after measuring the first steps
    criterion: CriterionConfig = field(default_factory=CriterionConfig)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "accumulate"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "lr_backbone", "weight_decay", "clip_max_norm", "warmup_steps", "num_workers",
                     "eval_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; expected one of {', '.join(SCHEDULES)}")
        if not 0 < self.drop_fraction <= 1:
            raise ValueError(f"drop_fraction must be in (0, 1], got {self.drop_fraction}")
        if self.lr_drop is not None and self.lr_drop < 1:
            raise ValueError(f"lr_drop must be at least 1 epoch, got {self.lr_drop}")
        if self.augment not in AUGMENTS:
            raise ValueError(f"unknown augment {self.augment!r}; expected one of {', '.join(AUGMENTS)}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.groups < 1:
            raise ValueError(f"groups must be at least 1, got {self.groups}")
        if self.group_init not in ("copy", "fresh"):
            raise ValueError(f"unknown group_init {self.group_init!r}; expected copy or fresh")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f"time budget must be positive, got {self.time_budget_s} s")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")

    @property
    def drop_epoch(self) -> int:
        """Step schedule: the lr is multiplied by 0.1 from this (0-based) epoch on."""
        return self.lr_drop if self.lr_drop is not None else max(1, round(self.epochs * self.drop_fraction))

    def drop_step(self, steps_per_epoch: int, planned_steps: int | None = None) -> int:
        """Step schedule: the lr is multiplied by 0.1 from this (0-based) optimizer step on.
        `planned_steps`: a time budget's plan, which may end part-way through an epoch; without
        `lr_drop` the drop is then at `drop_fraction` of its steps. Otherwise: the start of `drop_epoch`."""
        if planned_steps is None or self.lr_drop is not None:
            return self.drop_epoch * steps_per_epoch
        return max(1, round(planned_steps * self.drop_fraction))

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training config keys: {', '.join(unknown)}")
        if isinstance(data.get("criterion"), dict):
            crit = dict(data["criterion"])
            if isinstance(crit.get("matcher"), dict):
                crit["matcher"] = MatcherConfig(**crit["matcher"])
            data["criterion"] = CriterionConfig(**crit)
        return cls(**data)
