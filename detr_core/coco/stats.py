"""Counts over a CocoDocument: images, boxes per class, empty images, odd boxes. Plain dicts, so the
CLI can print them as a table or as JSON and the GUI can show them as it likes."""
from __future__ import annotations

from .document import CocoDocument
from .validate import OUTSIDE_TOLERANCE, LoadReport


def _outside(bbox, image: dict) -> bool:
    x, y, w, h = bbox
    t = OUTSIDE_TOLERANCE
    return x < -t or y < -t or x + w > image["width"] + t or y + h > image["height"] + t


def document_stats(doc: CocoDocument, report: LoadReport | None = None) -> dict:
    """{"file", "image_root", "images", "annotations", "categories", "images_without_boxes",
    "crowd_boxes", "zero_size_boxes", "boxes_outside_image", "max_boxes_per_image",
    "classes": [{"id", "name", "supercategory", "boxes", "images"}] (file order),
    "warnings": [...], "problems": [...]} (warnings/problems from `report` when given)."""
    boxes = {c["id"]: 0 for c in doc.categories}
    images_with = {c["id"]: set() for c in doc.categories}
    crowd = zero = outside = 0
    for ann in doc.annotations:
        boxes[ann["category_id"]] += 1
        images_with[ann["category_id"]].add(ann["image_id"])
        crowd += ann.get("iscrowd", 0) == 1
        x, y, w, h = ann["bbox"]
        zero += w == 0 or h == 0
        image = doc.image(ann["image_id"])
        outside += "width" in image and "height" in image and _outside(ann["bbox"], image)
    per_image = [len(doc.annotations_for(im["id"])) for im in doc.images]
    return {
        "file": str(doc.path) if doc.path else None,
        "image_root": str(doc.image_root),
        "images": len(doc.images),
        "annotations": len(doc.annotations),
        "categories": len(doc.categories),
        "images_without_boxes": sum(n == 0 for n in per_image),
        "crowd_boxes": crowd,
        "zero_size_boxes": zero,
        "boxes_outside_image": outside,
        "max_boxes_per_image": max(per_image, default=0),
        "classes": [{"id": c["id"], "name": c["name"], "supercategory": c.get("supercategory"),
                     "boxes": boxes[c["id"]], "images": len(images_with[c["id"]])}
                    for c in doc.categories],
        "warnings": list(report.warnings) if report else [],
        "problems": list(report.problems) if report else [],
    }
