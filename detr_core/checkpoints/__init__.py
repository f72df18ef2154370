"""DETR checkpoints: official facebookresearch files, Hugging Face folders, the project's own format.

    loaded = load_checkpoint("detr-r50")              # or a .pth path, or a Hugging Face folder
    loaded.model, loaded.config, loaded.class_names, loaded.description
    save_checkpoint("run/best.pth", model, config, class_names, metadata={...}, state={...})
    read_checkpoint_state("run/best.pth")["state"]    # resume: optimizer, scheduler, epoch, rng

Files are only ever read with torch.load(weights_only=True) (argparse.Namespace allow-listed) or
safetensors; every problem is a one-line CheckpointError naming the file.
"""
from .hub import OFFICIAL_CHECKPOINTS
from .loader import LoadedCheckpoint, load_checkpoint
from .project import read_checkpoint_state, save_checkpoint

__all__ = ["LoadedCheckpoint", "OFFICIAL_CHECKPOINTS", "load_checkpoint", "read_checkpoint_state",
           "save_checkpoint"]
