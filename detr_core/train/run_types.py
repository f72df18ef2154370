"""The plain records of a training run (its data, its result) and the mixed-precision choice."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.classes import ClassMap
from ..data.dataset import CocoDetection


@dataclass
class TrainData:
    train: CocoDetection
    val: CocoDetection | None
    class_map: ClassMap


@dataclass
class TrainResult:
    status: str  # "completed" | "stopped"
    epoch: int  # epochs completed
    step: int  # optimizer steps done
    metrics: dict | None  # last validation
    checkpoint: Path | None
    model: Path | None


def autocast_for(device: torch.device, enabled: bool):
    """(context, dtype, needs a GradScaler): mixed precision on CUDA only."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext(), None, False
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype), dtype, dtype == torch.float16


class StuckWatch:
    """Warns once when the epoch loss has barely fallen after 3 epochs."""

    def __init__(self):
        self.first_loss: float | None = None
        self.warned = False

    def check(self, epoch: int, loss: float | None) -> str | None:
        if loss is None:
            return None
        if self.first_loss is None:
            self.first_loss = loss
        elif epoch >= 3 and not self.warned and loss > 0.95 * self.first_loss:
            self.warned = True
            return (f"the loss has barely fallen in {epoch} epochs ({self.first_loss:.3f} -> {loss:.3f}): "
                    "DETR learns slowly from scratch and on small data; start from a pretrained "
                    "checkpoint or train longer")
        return None
