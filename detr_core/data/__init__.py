"""Training and evaluation data: COCO instances files (read through `detr_core.coco`) turned into
model samples, with the reference augmentation, padding collation and a deterministic sampler.

    train_set, summary = load_detection_dataset(json_path, image_root, train=True, ...)
    loader = make_loader(train_set, batch_size=2, sampler=EpochSampler(len(train_set), seed=42))

Names are imported on first use: `detr_core.data.resolutions` and `.classes` need no torch.
"""
from __future__ import annotations

from ..lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
