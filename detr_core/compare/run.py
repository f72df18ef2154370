"""Comparing two checkpoints on a COCO file: predict with both, then `compare_results`.

    comparison = compare_checkpoints("before.pth", "after.pth", "val.json", image_root=None,
                                     progress=lambda done, total, stage: ...)

Both models predict every query of every image (scores down to 0, as evaluation does), with the
Detector's own pre- and post-processing. Images that cannot be read are skipped and listed. When
the two models' classes differ, they are compared on the categories both can predict (by the
checkpoint's category ids, else by class name), and the others are named as left out.
"""
from __future__ import annotations

import os
from typing import Callable

from ..checkpoints import load_checkpoint
from ..coco import CocoDocument
from ..errors import DatasetError, ImageError
from ..images import load_image
from ..infer.detector import Detector
from ..train.evaluate import category_mapping
from .summary import CompareConfig, Comparison, compare_results

Progress = Callable[[int, int, str], None]


def _mapping(loaded, gt: dict, where: str) -> dict[int, int]:
    """Model class -> ground-truth category id, for the classes the file has."""
    by_name = {c["name"]: c["id"] for c in gt["categories"]}
    try:
        mapping, _ = category_mapping(loaded.class_names, loaded.metadata.get("category_ids"), gt, where)
    except DatasetError:  # some of the file's classes are unknown to this model: map what it knows
        mapping = {i: by_name[n] for i, n in enumerate(loaded.class_names) if n in by_name}
    known = {c["id"] for c in gt["categories"]}
    return {k: v for k, v in mapping.items() if v in known}


def _restricted(gt: dict, categories: set[int]) -> dict:
    return {**gt, "categories": [c for c in gt["categories"] if c["id"] in categories],
            "annotations": [a for a in gt["annotations"] if a["category_id"] in categories]}


def compare_checkpoints(checkpoint_a, checkpoint_b, json_path, image_root=None, *,
                        config: CompareConfig = CompareConfig(), device: str = "auto",
                        progress: Progress | None = None) -> Comparison:
    """Compare two checkpoints on the labels of a COCO file (its images found as the workbench does)."""
    doc, _ = CocoDocument.load(json_path, image_root)
    gt = doc.to_json()
    paths = {im["id"]: doc.image_path(im["id"]) for im in gt["images"]}
    return compare_on(load_checkpoint(checkpoint_a), load_checkpoint(checkpoint_b), gt, paths,
                      config=config, device=device, progress=progress, where=str(json_path))


def compare_on(loaded_a, loaded_b, gt: dict, image_paths: dict, *, config: CompareConfig = CompareConfig(),
               device: str = "auto", progress: Progress | None = None, where: str = "the labels",
               should_stop: Callable[[], bool] = lambda: False) -> Comparison:
    """Compare two loaded checkpoints on `gt` (a COCO dict) over `image_paths` {image id: file}."""
    images = sorted(image_paths.items())
    loaded = [loaded_a, loaded_b]
    mappings = [_mapping(m, gt, where) for m in loaded]
    shared = set(mappings[0].values()) & set(mappings[1].values())
    if not shared:
        raise DatasetError(f"{where}: the two models share none of its categories")
    left_out = sorted(c["name"] for c in gt["categories"] if c["id"] not in shared)
    detectors = [Detector(m.model, m.config, m.class_names, device=device) for m in loaded]
    results, skipped, usable = ([], []), [], []
    for n, (image_id, path) in enumerate(images):  # each image decoded once, both models run on it
        if should_stop():
            raise InterruptedError("comparison cancelled")
        try:
            image = load_image(path)
        except ImageError as e:
            skipped.append(str(e))
        else:
            usable.append(image_id)
            for side, (detector, mapping) in enumerate(zip(detectors, mappings)):
                det = detector.detect([image])[0]
                results[side].extend(r for r in det.to_coco(image_id, None, 0.0, None, mapping)
                                     if r["category_id"] in shared)
        if progress:
            progress(n + 1, len(images), "detecting")
    comparison = compare_results(_restricted(gt, shared), results[0], results[1], config, usable)
    comparison.skipped, comparison.left_out_classes = skipped, left_out
    return comparison
