"""What a run sets on its model before the first step: which parts of the backbone train (none
of the stem and layer1 in the reference; all of it from scratch) and, when the run's
configuration says so, the transformer's dropout."""
from __future__ import annotations

from torch import nn

from ..model.config import ModelConfig
from ..model.transformer import set_dropout
from .config import TrainConfig


def make_trainable(model: nn.Module, cfg: TrainConfig, model_config: ModelConfig) -> ModelConfig:
    """Prepare `model` (a DETR) for `cfg`; returns the model configuration the run saves (its
    dropout is the run's when `cfg.dropout` is set: dropout acts only while training)."""
    if cfg.dropout is not None:
        set_dropout(model, cfg.dropout)
        model_config = model_config.replace(dropout=cfg.dropout)
    if cfg.freeze_backbone:
        model.backbone.requires_grad_(False)
    elif cfg.train_stem:
        model.backbone.requires_grad_(True)
    return model_config
