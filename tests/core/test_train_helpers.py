"""Shared set-up of the training tests (no tests here): a small synthetic set, a tiny model, and
a recorder of engine events."""
from __future__ import annotations

from pathlib import Path

import torch

from detr_core.model.config import preset
from detr_core.data import load_detection_dataset
from detr_core.data.transforms import EvalTransform, ResolutionPreset, TrainTransform
from detr_core.model.detr import build
from detr_core.train.engine import TrainData
from detr_core.data.synthetic import write_dataset

# Small images keep a step well under a second on two cores.
TEST_RESOLUTION = ResolutionPreset("test", (96, 112, 128), 160, (96, 112), 64, 96)


def tiny_config(num_classes: int = 5, **changes):
    """The tiny preset without layer4: 2.9M weights, resumable checkpoints of ~35 MB."""
    return preset("tiny", num_classes=num_classes, backbone_stages=3, min_size=128, max_size=160, **changes)


def tiny_model(seed: int = 0, **changes):
    torch.manual_seed(seed)
    return build(tiny_config(**changes))


def shapes_dataset(folder: Path, images: int = 6, seed: int = 3) -> Path:
    return write_dataset(folder, images, seed=seed, name="s")


def train_data(annotations: Path, val: Path | None = None, seed: int = 0) -> TrainData:
    train, _ = load_detection_dataset(annotations, train=True, transform=TrainTransform(TEST_RESOLUTION), seed=seed)
    val_set = None
    if val is not None:
        val_set, _ = load_detection_dataset(val, train=False, transform=EvalTransform(128, 160),
                                            class_map=train.class_map)
    return TrainData(train, val_set, train.class_map)


class Recorder:
    """Keeps every event (as dicts) and optionally runs a hook on each."""

    def __init__(self, hook=None):
        self.events: list[dict] = []
        self.hook = hook

    def __call__(self, event) -> None:
        self.events.append(event.to_dict())
        if self.hook is not None:
            self.hook(event)

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]


def stop_after(steps: int, recorder: Recorder):
    return lambda: len(recorder.of("step")) >= steps
