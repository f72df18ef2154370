"""DETR checkpoints: official facebookresearch files, Hugging Face folders, the project's own format.

    loaded = load_checkpoint("detr-r50")              # or a .pth path, or a Hugging Face folder
    loaded.model, loaded.config, loaded.class_names, loaded.description
    save_checkpoint("run/best.pth", model, config, class_names, metadata={...}, state={...})
    read_checkpoint_state("run/best.pth")["state"]    # resume: optimizer, scheduler, epoch, rng

Files are only ever read with torch.load(weights_only=True) (argparse.Namespace allow-listed) or
safetensors; every problem is a one-line CheckpointError naming the file.

Names are imported on first use, so `from detr_core.checkpoints.hub import OFFICIAL_CHECKPOINTS`
(the window's model panel, before anything is loaded) does not import torch.
"""
from __future__ import annotations

import importlib

_WHERE = {
    "OFFICIAL_CHECKPOINTS": "hub",
    "LoadedCheckpoint": "loader",
    "load_checkpoint": "loader",
    "read_checkpoint_state": "project",
    "save_checkpoint": "project",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'detr_core.checkpoints' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
