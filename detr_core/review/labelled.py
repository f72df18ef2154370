"""Scoring labelled images as the detector's results arrive: a generator of ImageReview, so a GUI
(or the CLI) can fill the queue while the scan runs."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .config import ReviewConfig
from .findings import find_issues
from .honesty import Honesty
from .labels import ClassMapping, ImageLabels, labels_by_image
from .predictions import ImagePredictions
from .queue import ImageReview
from .scan import Progress, ShouldStop, scan


def score_image(labels: ImageLabels, preds: ImagePredictions, class_names: list[str],
                cfg: ReviewConfig, honesty: Honesty | None = None,
                mapping: ClassMapping | None = None) -> ImageReview:
    """One labelled image's review. Its score is the larger of 1 - cleanlab's image quality and
    its most certain finding (cleanlab does not see spurious, conflicting or duplicate labels).
    `mapping`: only its mapped model classes give findings (None: every class)."""
    findings, quality = find_issues(labels, preds, class_names, cfg,
                                    mapping.mapped_classes if mapping is not None else None)
    score = max([1.0 - quality] + [f.score for f in findings])
    return ImageReview(labels.file_name, float(score), labels.image_id, quality=quality, findings=findings,
                       in_training=honesty.in_training(labels.file_name) if honesty else None)


def failed_image(labels: ImageLabels, error: str) -> ImageReview:
    return ImageReview(labels.file_name, float("nan"), labels.image_id, status="failed", error=error)


def iter_labelled(detector, coco: dict, image_root: str | Path, cfg: ReviewConfig = ReviewConfig(), *,
                  mapping: ClassMapping | None = None, honesty: Honesty | None = None, batch_size: int = 4,
                  on_progress: Progress | None = None, should_stop: ShouldStop | None = None,
                  where: str | Path = "the labels") -> Iterator[ImageReview]:
    """Yield each image of `coco` (a COCO dict; file names relative to `image_root`) reviewed
    with `detector` (infer.detector.Detector), in file order, as results arrive. Raises
    DatasetError naming `where` when none of the model's classes maps to the file's categories."""
    if mapping is None:
        mapping = ClassMapping.build(detector.class_names, coco.get("categories", []), detector.category_ids)
    mapping.require_some(where)
    images = labels_by_image(coco, mapping)
    paths = [Path(image_root) / im.file_name for im in images]
    for item in scan(detector, paths, batch_size=batch_size, on_progress=on_progress, should_stop=should_stop):
        labels = images[item.index]
        if item.predictions is None:
            yield failed_image(labels, item.error)
        else:
            yield score_image(labels, item.predictions, detector.class_names, cfg, honesty, mapping)
