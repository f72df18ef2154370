"""Training and evaluation data: COCO instances files (read through `detr_core.coco`) turned into
model samples, with the reference augmentation, padding collation and a deterministic sampler.

    train_set, summary = load_detection_dataset(json_path, image_root, train=True, ...)
    loader = make_loader(train_set, batch_size=2, sampler=EpochSampler(len(train_set), seed=42))
"""
from .classes import ClassMap
from .collate import Batch, collate
from .dataset import CocoDetection, load_detection_dataset
from .sampler import EpochSampler
from .summary import DatasetSummary
from .transforms import RESOLUTIONS, ResolutionPreset, resolution_preset

__all__ = ["Batch", "ClassMap", "CocoDetection", "DatasetSummary", "EpochSampler", "RESOLUTIONS",
           "ResolutionPreset", "collate", "load_detection_dataset", "resolution_preset"]
