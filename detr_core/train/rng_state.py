"""What a resumable checkpoint holds besides the weights, and putting it back.

`state` (stored by `checkpoints.save_checkpoint(..., state=...)`, reloaded with
torch.load(weights_only=True), so only plain values and tensors):
    {"epoch": e,               # 0-based epoch the run continues in
     "epoch_step": k,          # optimizer steps already done in that epoch
     "step": g,                # optimizer steps done in the whole run
     "optimizer": AdamW state_dict, "scheduler": LRSchedule state_dict,
     "scaler": GradScaler state_dict or None,
     "rng": {"torch": ByteTensor, "cuda": [ByteTensor], "numpy": [...], "python": [...]},
     "train_config": TrainConfig.to_dict(), "world_size": n,
     "best_ap": float or None, "last_metrics": dict or None, "first_epoch_loss": float or None,
     "epoch_sums": {term: sum over the epoch's steps so far}, "epoch_images": n}
The data order and augmentation are functions of (seed, epoch, index), so with the step count
they need no state of their own.
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def rng_state() -> dict[str, Any]:
    """Every random generator training draws from, as plain values and tensors."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss_next],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
