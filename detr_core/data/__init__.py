"""Training and evaluation data: COCO instances files (read through `detr_core.coco`) turned into
model samples, with the reference augmentation, padding collation and a deterministic sampler.

    train_set, summary = load_detection_dataset(json_path, image_root, train=True, ...)
    loader = make_loader(train_set, batch_size=2, sampler=EpochSampler(len(train_set), seed=42))

Names are imported on first use: `detr_core.data.resolutions` and `.classes` need no torch.
"""
from __future__ import annotations

import importlib

_WHERE = {
    "ClassMap": "classes",
    "Batch": "batching",
    "collate": "batching",
    "CocoDetection": "dataset",
    "load_detection_dataset": "dataset",
    "EpochSampler": "sampler",
    "DatasetSummary": "summary",
    "RESOLUTIONS": "resolutions",
    "ResolutionPreset": "resolutions",
    "resolution_preset": "resolutions",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'detr_core.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
