"""Setting up a training run from the command line's choices: the run directory, the data, the
starting model. Kept apart from cli/train.py so the GUI or a script can do the same steps."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..model.config import ModelConfig, preset
from ..data.classes import ClassMap
from ..data.batching import collate
from ..data.dataset import load_detection_dataset
from ..data.summary import DatasetSummary
from ..data.transforms import (EvalTransform, ResizeTransform, ResolutionPreset, TrainTransform, resolution_for,
                               resolution_preset)
from ..model.detr import DETR, build
from .engine import TrainData
from ..errors import CheckpointError, WorkbenchError
from .finetune import calibrate_frozen_batchnorm, transfer_to_classes
from .run_files import CHECKPOINT, RUN_FILES, remove_stale_temporaries


class RunDirError(WorkbenchError):
    """A run directory that cannot be used as asked."""


def prepare_run_dir(out: Path, *, resume: bool, overwrite: bool, main: bool) -> None:
    """Refuse an existing non-empty run directory unless resuming (it must hold a checkpoint) or
    overwriting (the run's own files are deleted, anything else is left alone)."""
    exists = out.exists() and (not out.is_dir() or any(out.iterdir()))
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{out}: exists and is not a folder")
    if resume:
        if not (out / CHECKPOINT).is_file():
            raise RunDirError(f"{out}: nothing to resume (no {CHECKPOINT}); start a new run without --resume")
        if main:
            remove_stale_temporaries(out)  # left by a run that was killed while writing
        return
    if exists and not overwrite:
        raise RunDirError(f"{out}: run folder exists; use --resume to continue it or --overwrite to start again")
    if main:
        out.mkdir(parents=True, exist_ok=True)
        if overwrite:
            remove_stale_temporaries(out)
            for name in RUN_FILES:
                path = out / name
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()


def pick_resolution(name: str | None, config: ModelConfig) -> ResolutionPreset:
    if name in (None, "auto"):
        return resolution_for(config.min_size)
    try:
        return resolution_preset(name)
    except ValueError as e:
        raise WorkbenchError(str(e)) from None


@dataclass
class LoadedData:
    data: TrainData
    summaries: list[tuple[str, DatasetSummary]] = field(default_factory=list)


def training_transform(resolution: ResolutionPreset, *, hflip: bool, augment: str = "reference"):
    """The training set's transform for TrainConfig's `augment` and `hflip`."""
    kind = ResizeTransform if augment == "resize" else TrainTransform
    return kind(resolution, flip=hflip)


def load_data(train_json: Path, train_images: Path | None, val_json: Path | None, val_images: Path | None,
              resolution: ResolutionPreset, *, hflip: bool, seed: int, class_map: ClassMap | None = None,
              augment: str = "reference") -> LoadedData:
    train, train_summary = load_detection_dataset(train_json, train_images, train=True,
                                                  transform=training_transform(resolution, hflip=hflip,
                                                                               augment=augment),
                                                  class_map=class_map, seed=seed)
    out = LoadedData(TrainData(train, None, train.class_map), [("training set", train_summary)])
    if val_json is not None:
        # At the run's evaluation size (not the reference 800/1333): the validation loss must be
        # comparable with the training loss, and the model is scored at that size too.
        val, val_summary = load_detection_dataset(val_json, val_images, train=False,
                                                  transform=EvalTransform(resolution.eval_size, resolution.max_size),
                                                  class_map=train.class_map, seed=seed)
        out.data.val = val
        out.summaries.append(("validation set", val_summary))
    return out


@dataclass
class StartingModel:
    model: DETR
    config: ModelConfig
    base: str  # what the weights are: one line
    notes: list[str] = field(default_factory=list)
    from_scratch: bool = False
    new_classes: int = 0  # classes whose head row starts fresh (fine-tuning)


def from_checkpoint(loaded, class_map: ClassMap, resolution: ResolutionPreset, seed: int) -> StartingModel:
    """Fine-tuning: a LoadedCheckpoint (any format the core loads), its class head moved onto the
    dataset's classes, its evaluation size set to the training resolution's."""
    model, config, transfer = transfer_to_classes(
        loaded.model, loaded.config, loaded.class_names, list(class_map.names), seed=seed,
        config_changes={"min_size": resolution.eval_size, "max_size": resolution.max_size})
    return StartingModel(model, config, loaded.description, [transfer.describe()], new_classes=len(transfer.new))


def from_scratch(config_name: str, class_map: ClassMap, data: TrainData, resolution: ResolutionPreset,
                 seed: int, calibration_images: int = 16) -> StartingModel:
    """A randomly initialised model of a named configuration, its frozen batch norm calibrated on
    the first training images (train it with TrainConfig.train_stem: nothing in it is trained)."""
    try:
        config = preset(config_name, num_classes=len(class_map))
    except ValueError as e:
        raise WorkbenchError(f"--config: {e}") from None
    config = config.replace(min_size=resolution.eval_size, max_size=resolution.max_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(config)
    n = min(calibration_images, len(data.train))
    data.train.set_epoch(0)
    batches = [collate([data.train[i] for i in range(start, min(start + 4, n))]).images
               for start in range(0, n, 4)]
    layers = calibrate_frozen_batchnorm(model, batches)
    return StartingModel(model, config, f"random initialisation ({config_name} config, seed {seed})",
                         [f"training from scratch: {layers} frozen batch-norm layers calibrated on {n} "
                          "training images; DETR from scratch needs many epochs"], from_scratch=True)


def from_run(raw: dict, path: Path, class_map: ClassMap) -> StartingModel:
    """Resuming: the run's checkpoint.pth (as read by read_checkpoint_state), which must be for
    the training set's classes."""
    if "state" not in raw:
        raise CheckpointError(f"{path}: holds no training state to resume from")
    config = ModelConfig.from_dict(raw["model_config"])
    ids = list(raw.get("metadata", {}).get("category_ids") or [])
    if ids != list(class_map.category_ids) or list(raw["class_names"]) != list(class_map.names):
        raise CheckpointError(f"{path}: trained on other classes ({', '.join(raw['class_names'][:5])}) "
                              "than the training set's; resume with the same annotations")
    model = build(config)
    model.load_state_dict(raw["model"], strict=True)
    return StartingModel(model, config, str(raw.get("metadata", {}).get("base", "")))
