"""The `detr-workbench train` command lines a job runs (no Qt).

A job is the project's own headless command in a child process (`python -m detr_core train ...
--jsonl`); with more than one CUDA device it can run under torchrun (`python -m
torch.distributed.run --standalone --nproc_per_node N -m detr_core train ...`), which the train
command supports (DistributedDataParallel, only rank 0 reports).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from detr_core.data.resolutions import RESOLUTION_CHOICES
from detr_core.devices import DEVICE_CHOICES
from detr_core.model.config import PRESETS

# The dialog's choices, from the core that accepts them (never copied here by hand).
RESOLUTIONS = RESOLUTION_CHOICES  # --resolution
CONFIGS = tuple(PRESETS)  # --config (training from scratch)
DEVICES = DEVICE_CHOICES  # --device


@dataclass(frozen=True)
class TrainOptions:
    """What the fine-tune dialog chooses; None: the train command's default."""
    epochs: int = 10
    batch_size: int = 2
    lr: float = 1e-4
    lr_backbone: float = 1e-5
    resolution: str = "auto"
    device: str = "auto"
    checkpoint: str | None = None  # starting weights; None: from scratch with `config`
    config: str = "small"  # model preset when training from scratch
    freeze_backbone: bool = False
    seed: int = 42
    workers: int | None = None  # data-loader processes (None: the command's default)
    gpus: int = 1  # > 1: run under torchrun with this many processes (one per CUDA device)
    minutes: int | None = None  # train for this long with the automatic recipe (epochs, batch
    #                             size and learning rates then come from the recipe, not from here)


@dataclass(frozen=True)
class DataFiles:
    """The snapshot a job trains on (see snapshot.py)."""
    train_json: Path
    train_images: Path
    val_json: Path | None = None
    val_images: Path | None = None


def _launcher(python: str, gpus: int) -> list[str]:
    if gpus > 1:
        return [python, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(gpus),
                "-m", "detr_core", "train"]
    return [python, "-m", "detr_core", "train"]


def train_command(run_dir: Path, data: DataFiles, options: TrainOptions, *, python: str | None = None,
                  jsonl: bool = True, overwrite: bool = True) -> list[str]:
    """A new run in `run_dir`. `overwrite`: the folder already holds the data snapshot (the train
    command deletes only its own run files, never the snapshot)."""
    o = options
    args = _launcher(python or sys.executable, o.gpus)
    args += ["--train-json", str(data.train_json), "--train-images", str(data.train_images)]
    if data.val_json is not None:
        args += ["--val-json", str(data.val_json), "--val-images", str(data.val_images or data.train_images)]
    if o.checkpoint:
        args += ["--checkpoint", o.checkpoint]
    else:
        args += ["--config", o.config]
    args += ["--out", str(run_dir), "--device", "cuda" if o.gpus > 1 else o.device,
             "--resolution", o.resolution, "--seed", str(o.seed)]
    if o.minutes is not None:  # the automatic recipe fits epochs and schedule into the time
        args += ["--time-budget", f"{int(o.minutes)}m", "--recipe", "auto"]
    else:
        args += ["--epochs", str(o.epochs), "--batch-size", str(o.batch_size), "--lr", repr(float(o.lr)),
                 "--lr-backbone", repr(float(o.lr_backbone)), "--recipe", "reference"]
    if o.workers is not None:
        args += ["--workers", str(o.workers)]
    if o.freeze_backbone:
        args.append("--freeze-backbone")
    if overwrite:
        args.append("--overwrite")
    if jsonl:
        args.append("--jsonl")
    return args


def preflight_command(data: DataFiles, options: TrainOptions, *, overfit: bool = True,
                      python: str | None = None) -> list[str]:
    """`detr-workbench preflight --json` on the data, starting model and resolution `train_command`
    would use (one JSON finding per line; exit 0 fine, 4 errors found, 1 the check failed).
    `overfit`: with the one-batch overfit check (the slow part: it trains a few dozen steps)."""
    o = options
    args = [python or sys.executable, "-m", "detr_core", "preflight", "--json",
            "--train-json", str(data.train_json), "--train-images", str(data.train_images)]
    if data.val_json is not None:
        args += ["--val-json", str(data.val_json), "--val-images", str(data.val_images or data.train_images)]
    args += ["--checkpoint", o.checkpoint] if o.checkpoint else ["--config", o.config]
    args += ["--resolution", o.resolution]
    return args + ([] if overfit else ["--overfit-steps", "0"])  # on: the command's own step count


def resume_command(run_dir: Path, *, device: str = "auto", gpus: int = 1, epochs: int | None = None,
                   python: str | None = None, jsonl: bool = True) -> list[str]:
    """Continue the run in `run_dir` exactly (its run.json names the data and model)."""
    args = _launcher(python or sys.executable, gpus)
    args += ["--out", str(run_dir), "--resume", "--device", "cuda" if gpus > 1 else device]
    if epochs is not None:
        args += ["--epochs", str(epochs)]
    if jsonl:
        args.append("--jsonl")
    return args


def cuda_device_count() -> int:
    """CUDA devices torch sees here (0 without CUDA); > 1 offers torchrun."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def shell_line(args: list[str]) -> str:
    """The command as one copyable line, for the log."""
    import shlex

    return shlex.join(args)
