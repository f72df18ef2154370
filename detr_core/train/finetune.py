"""Starting weights for a run: a loaded checkpoint moved onto the dataset's classes, or a fresh
model made trainable from scratch.

Head transfer (fine-tuning onto another class set): every weight of the base model is kept except
the class head, whose rows are chosen by class name: a class whose name exists in the base model
(compared without case, spaces/underscores/hyphens alike) keeps that row, the others get a fresh
row (nn.Linear's default initialisation, seeded), and the "no object" row is always kept. Same
names in the same order keep the head as it is.

From scratch there is no trained batch-norm statistic to freeze: the frozen batch norm of a random
ResNet is the identity and each layer's outputs have whatever scale the initialisation gives them.
`calibrate_frozen_batchnorm` sets each frozen batch norm's statistics from a few training images
at initialisation (data-dependent initialisation), so every layer starts with zero-mean,
unit-variance outputs; training then uses batch statistics (train_fold.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

import torch
from torch import Tensor

from ..model.backbone import FrozenBatchNorm2d
from ..model.config import ModelConfig
from ..model.detr import DETR, build


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def new_class_names(class_names: list[str], base_names: list[str]) -> list[str]:
    """The classes `transfer_to_classes` starts with a fresh head row (no class of that name in
    the base model), without loading the model: the fine-tune dialog's recipe needs the count."""
    if list(class_names) == list(base_names):
        return []
    known = {_key(n) for n in base_names if n != "N/A"}
    return [n for n in class_names if _key(n) not in known]


@dataclass
class HeadTransfer:
    kept: list[str] = field(default_factory=list)  # classes whose head row came from the base model
    new: list[str] = field(default_factory=list)  # classes with a freshly initialised row

    def describe(self) -> str:
        if not self.new:
            return f"class head kept for all {len(self.kept)} classes"
        shown = ", ".join(self.new[:5]) + (" ..." if len(self.new) > 5 else "")
        return (f"class head: {len(self.kept)} classes kept from the base model, "
                f"{len(self.new)} new ({shown})")


def transfer_to_classes(base: DETR, base_config: ModelConfig, base_names: list[str],
                        class_names: list[str], *, seed: int = 0,
                        config_changes: dict | None = None) -> tuple[DETR, ModelConfig, HeadTransfer]:
    """A new DETR for `class_names` holding `base`'s weights (see the module docstring).
    `config_changes`: e.g. the training resolution's min_size/max_size."""
    config = base_config.replace(num_classes=len(class_names), **(config_changes or {}))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(config)
    state = {k: v for k, v in base.state_dict().items() if not k.startswith("class_embed.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and sorted(missing) == ["class_embed.bias", "class_embed.weight"], (missing, unexpected)
    report = HeadTransfer()
    if list(class_names) == list(base_names):  # the same classes: the head as it is
        model.class_embed.load_state_dict(base.class_embed.state_dict())
        report.kept = list(class_names)
        return model, config, report
    base_rows = {}
    for i, name in enumerate(base_names):
        if name != "N/A":
            base_rows.setdefault(_key(name), i)
    with torch.no_grad():
        old_w, old_b = base.class_embed.weight, base.class_embed.bias  # [K_base+1, C], [K_base+1]
        new_w, new_b = model.class_embed.weight, model.class_embed.bias  # [K+1, C], [K+1]
        for i, name in enumerate(class_names):
            row = base_rows.get(_key(name))
            if row is None:
                report.new.append(name)
                continue
            new_w[i] = old_w[row]
            new_b[i] = old_b[row]
            report.kept.append(name)
        new_w[-1] = old_w[-1]  # "no object"
        new_b[-1] = old_b[-1]
    return model, config, report


@torch.no_grad()
def calibrate_frozen_batchnorm(model: DETR, images: Iterable[Tensor]) -> int:
    """Set every FrozenBatchNorm2d's running mean/variance to those of its input over `images`
    ([B, 3, H, W] normalised batches), in forward order, so its output has zero mean and unit
    variance per channel (weight 1, bias 0). Returns how many layers were set."""
    layers = [m for m in model.backbone.modules() if isinstance(m, FrozenBatchNorm2d)]
    stats: dict[int, list[Tensor]] = {id(m): [] for m in layers}
    batches = list(images)
    assert batches, "calibration needs at least one batch of images"

    def capture(module: FrozenBatchNorm2d, inputs: tuple[Tensor]) -> None:
        x = inputs[0]  # [B, C, H, W]
        stats[id(module)].append(x.transpose(0, 1).flatten(1).double())  # [C, B*H*W]

    # One layer at a time, in order: each is set before the layers after it are measured.
    was_training = model.training
    model.eval()
    for layer in layers:
        handle = layer.register_forward_pre_hook(capture)
        try:
            for x in batches:
                model.backbone[0](x)
        finally:
            handle.remove()
        values = torch.cat(stats.pop(id(layer)), dim=1)  # [C, N]
        layer.running_mean.copy_(values.mean(1).float())
        layer.running_var.copy_(values.var(1).clamp(min=1e-4).float())
        layer.weight.fill_(1.0)
        layer.bias.fill_(0.0)
    model.train(was_training)
    return len(layers)
