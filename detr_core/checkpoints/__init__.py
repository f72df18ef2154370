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

from ..lazy import lazy_exports

_WHERE = {
    "OFFICIAL_CHECKPOINTS": "hub",
    "LoadedCheckpoint": "loader",
    "load_checkpoint": "loader",
    "read_checkpoint_state": "project",
    "save_checkpoint": "project",
}
__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
