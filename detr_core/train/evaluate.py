"""Evaluation: run a model over a COCO set exactly as the `Detector` does, score with pycocotools.

    metrics, results = evaluate_model(model, model_config, class_map, dataset, device="cpu")
    metrics = evaluate_checkpoint("run/model.pth", "val.json", "images/")

Predictions are every query of every image (score = best real-class probability, as the
reference post-processing), boxes in the original image's pixels, category ids mapped back to the
dataset's. Under torch.distributed each process predicts its share of the images; the results
are gathered and scored on every process alike.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from . import distributed
from ..coco.metrics import coco_metrics
from ..model.config import ModelConfig
from ..data.classes import ClassMap
from ..data.dataset import CocoDetection, ImageRecord, load_detection_dataset
from ..infer.detector import Detector
from ..errors import DatasetError
from ..images import load_image


class _Images(Dataset):
    """Decoded images (EXIF applied, RGB) of some records, for data-loader workers."""

    def __init__(self, records: list[ImageRecord]):
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int):
        return self.records[i].image_id, load_image(self.records[i].path)


def _as_list(batch):
    return batch


@dataclass
class EvalResult:
    metrics: dict
    results: list  # COCO detection results of every image
    images: int
    duration_s: float


def predict(detector: Detector, records: list[ImageRecord], category_ids: dict[int, int] | None, *,
            batch_size: int = 2, num_workers: int = 0) -> list[dict]:
    """COCO detection results (every query) of `records` by `detector`."""
    loader = DataLoader(_Images(records), batch_size=batch_size, num_workers=num_workers,
                        collate_fn=_as_list, generator=torch.Generator())
    results = []
    for batch in loader:
        detections = detector.detect([image for _, image in batch])
        for (image_id, _), det in zip(batch, detections):
            results += det.to_coco(image_id, None, 0.0, None, category_ids)
    for r in results:
        r.pop("query", None)
    return results


def evaluate_model(model: torch.nn.Module, model_config: ModelConfig, class_map: ClassMap,
                   dataset: CocoDetection, *, device: str | torch.device = "cpu", batch_size: int = 2,
                   num_workers: int = 0) -> EvalResult:
    """Score `model` on `dataset` (which holds its COCO document). The model is not changed:
    a copy optimised for inference runs, in evaluation mode."""
    start = time.perf_counter()
    inner = getattr(model, "module", model)
    detector = Detector(inner, model_config, list(class_map.names), device=device)
    rank, world = distributed.rank(), distributed.world_size()
    mine = dataset.records[rank::world]
    results = predict(detector, mine, class_map.to_category(), batch_size=batch_size,
                      num_workers=num_workers)
    if world > 1:
        results = [r for part in distributed.all_gather_object(results) for r in part]
    assert dataset.document is not None, "evaluation needs the dataset's COCO document"
    metrics = coco_metrics(dataset.document.data, results, [r.image_id for r in dataset.records])
    return EvalResult(metrics, results, len(dataset.records), time.perf_counter() - start)


def category_mapping(class_names: list[str], category_ids: list[int] | None, gt: dict,
                     where: str) -> tuple[dict[int, int], str]:
    """Model class -> ground-truth category id, and how it was decided: the checkpoint's own
    category_ids; else by class name; else identity when every ground-truth id is a class."""
    if category_ids:
        return {i: int(c) for i, c in enumerate(category_ids)}, "the checkpoint's category ids"
    by_name = {c["name"]: c["id"] for c in gt["categories"]}
    names = {n: i for i, n in enumerate(class_names) if n != "N/A"}
    if by_name and all(n in names for n in by_name):
        return {names[n]: cid for n, cid in by_name.items()}, "class names"
    if gt["categories"] and all(0 <= c["id"] < len(class_names) for c in gt["categories"]):
        return {i: i for i in range(len(class_names))}, "class index = category id (names differ)"
    missing = [n for n in by_name if n not in names][:5]
    raise DatasetError(f"{where}: the model's classes do not match its categories "
                       f"(not in the model: {', '.join(missing)})")


def evaluate_checkpoint(checkpoint: str | os.PathLike, json_path: str | os.PathLike,
                        image_root: str | os.PathLike | None = None, *, device: str = "auto",
                        batch_size: int = 2, num_workers: int = 2, min_size: int | None = None,
                        max_size: int | None = None) -> tuple[EvalResult, str]:
    """Load a checkpoint and a COCO set and score it. Returns (result, how classes were mapped)."""
    from ..checkpoints import load_checkpoint

    loaded = load_checkpoint(checkpoint)
    dataset, _ = load_detection_dataset(json_path, image_root, train=False)
    gt = dataset.document.data
    mapping, how = category_mapping(loaded.class_names, loaded.metadata.get("category_ids"), gt,
                                    str(json_path))
    start = time.perf_counter()
    detector = Detector(loaded.model, loaded.config, loaded.class_names, device=device,
                        min_size=min_size, max_size=max_size)
    results = predict(detector, dataset.records, mapping, batch_size=batch_size, num_workers=num_workers)
    metrics = coco_metrics(gt, results, [r.image_id for r in dataset.records])
    return EvalResult(metrics, results, len(dataset.records), time.perf_counter() - start), how


def write_metrics(path: str | os.PathLike, metrics: dict, **extra) -> None:
    from ..atomic import atomic_write_json

    atomic_write_json(Path(path), {**metrics, **extra}, indent=2)
