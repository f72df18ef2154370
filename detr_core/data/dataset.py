"""A COCO instances file + image folder as training / evaluation samples.

Annotations are read through `detr_core.coco.CocoDocument` (the same checks the workbench applies:
malformed JSON, missing keys, duplicate or string ids, unknown image or category references are
refused with a one-line DatasetError). On top of that, for training:
  - every listed image must exist (refused, naming the first missing files);
  - category ids map to contiguous model classes (`ClassMap`);
  - crowd boxes (iscrowd=1) are ignored, boxes are clipped to the image, zero-size ones dropped,
    all counted in the `DatasetSummary`;
  - images are decoded with `images.load_image` (EXIF orientation applied, as the detector does),
    and box coordinates refer to that oriented image. Its real size is read from the file header.

Sample `i`: (image [3, h, w] normalised, target) with target "labels" [N] int64 (model classes),
"boxes" [N, 4] cxcywh normalised to the transformed image, "image_id" int, "orig_size" [2] (h, w)
of the oriented file, "size" [2] (h, w) after the transform.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..coco import CocoDocument
from ..errors import DatasetError, ImageError
from ..images import image_size, load_image
from .classes import ClassMap
from .summary import DatasetSummary
from .transforms import EvalTransform

_SHOWN = 3  # offending entries named in an error


@dataclass(frozen=True)
class ImageRecord:
    image_id: int
    path: str
    width: int  # of the oriented image file
    height: int
    boxes_xyxy: np.ndarray  # [N, 4] float32 pixels, clipped, non-degenerate
    labels: np.ndarray  # [N] int64 model classes


def sample_rng(seed: int, epoch: int, index: int) -> random.Random:
    """The random source of one sample's augmentation in one epoch."""
    return random.Random((seed * 1_000_003 + epoch) * 1_000_003 + index)


class CocoDetection(Dataset):
    def __init__(self, records: list[ImageRecord], class_map: ClassMap, transform, *, seed: int = 0,
                 document: CocoDocument | None = None):
        self.records = records
        self.class_map = class_map
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        self.document = document  # kept in the main process only (see __getstate__)

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Augmentation of every sample depends on (seed, epoch, index) only."""
        self.epoch = epoch

    def __getstate__(self) -> dict:  # workers need the records, not the whole document
        return {**self.__dict__, "document": None}

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        rec = self.records[index]
        image = load_image(rec.path)
        if image.size != (rec.width, rec.height):
            raise ImageError(f"{rec.path}: image changed size since the dataset was loaded")
        target = {"boxes": torch.from_numpy(rec.boxes_xyxy.copy()),
                  "labels": torch.from_numpy(rec.labels.copy()),
                  "image_id": rec.image_id,
                  "orig_size": torch.tensor([rec.height, rec.width])}
        return self.transform(image, target, sample_rng(self.seed, self.epoch, index))

    def image_ids(self) -> list[int]:
        return [r.image_id for r in self.records]


def _records(doc: CocoDocument, class_map: ClassMap, summary: DatasetSummary) -> list[ImageRecord]:
    missing, unreadable, records = [], [], []
    for image in doc.images:
        path = doc.image_path(image["id"])
        if not path.is_file():
            missing.append(image["file_name"])
            continue
        try:
            width, height = image_size(path)
        except ImageError as e:
            unreadable.append(str(e))
            continue
        summary.size_mismatch += (width, height) != (image.get("width"), image.get("height"))
        boxes, labels = [], []
        for ann in doc.annotations_for(image["id"]):
            if ann.get("iscrowd", 0):
                summary.crowd_ignored += 1
                continue
            x, y, w, h = (float(v) for v in ann["bbox"])
            x0, y0 = min(max(x, 0.0), width), min(max(y, 0.0), height)
            x1, y1 = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
            if x1 <= x0 or y1 <= y0:
                summary.dropped_degenerate += 1
                continue
            summary.clipped += (x0, y0, x1, y1) != (x, y, x + w, y + h)
            boxes.append((x0, y0, x1, y1))
            labels.append(class_map.class_of(ann["category_id"]))
            name = class_map.names[labels[-1]]
            summary.per_class[name] = summary.per_class.get(name, 0) + 1
        summary.images_without_boxes += not boxes
        summary.boxes += len(boxes)
        records.append(ImageRecord(image["id"], os.fspath(path), width, height,
                                   np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                                   np.asarray(labels, dtype=np.int64)))
    if missing:
        raise DatasetError(f"{summary.path}: {len(missing)} of {len(doc.images)} images are missing from "
                           f"{summary.image_root}: {', '.join(missing[:_SHOWN])}"
                           f"{f' (and {len(missing) - _SHOWN} more)' if len(missing) > _SHOWN else ''}")
    if unreadable:
        raise DatasetError(f"{summary.path}: {len(unreadable)} images cannot be read: "
                           f"{'; '.join(unreadable[:_SHOWN])}")
    return records


def load_detection_dataset(json_path: str | os.PathLike, image_root: str | os.PathLike | None = None, *,
                           train: bool, transform=None, class_map: ClassMap | None = None,
                           seed: int = 0) -> tuple[CocoDetection, DatasetSummary]:
    """Load and check a COCO instances file for training (`train=True`, needs `transform`, e.g.
    `TrainTransform(resolution)`) or evaluation. `class_map`: the model's classes (default: this
    file's categories, by increasing id). Raises DatasetError with one line naming the file."""
    json_path = Path(json_path)
    doc, report = CocoDocument.load(json_path, image_root)
    summary = DatasetSummary(path=str(json_path), image_root=str(doc.image_root),
                             annotations=len(doc.annotations), images=len(doc.images),
                             warnings=[w for w in report.warnings
                                       if "zero width" not in w and "outside" not in w])
    if class_map is None:
        if not doc.categories:
            raise DatasetError(f"{json_path}: no categories: nothing to train")
        class_map = ClassMap.from_categories(doc.categories)
    else:
        used = {ann["category_id"] for ann in doc.annotations}
        summary.warnings += class_map.check_compatible(doc.categories, used, str(json_path))
    records = _records(doc, class_map, summary)
    summary.images = len(records)
    if train and not records:
        raise DatasetError(f"{json_path}: no images: nothing to train on")
    if transform is None:
        assert not train, "a training set needs its augmentation transform"
        transform = EvalTransform(800, 1333)
    return CocoDetection(records, class_map, transform, seed=seed, document=doc), summary
