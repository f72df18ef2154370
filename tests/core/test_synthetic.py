"""The synthetic shapes generator: deterministic, prefix-stable, valid COCO, boxes framing the
drawn shapes."""
from __future__ import annotations

import hashlib
import json

import numpy as np
from scipy.ndimage import binary_opening

from detr_core.coco import CocoDocument
from detr_core.data.synthetic import CLASSES, make_image, write_dataset


def test_same_seed_same_bytes_and_prefix_stable(tmp_path):
    a = write_dataset(tmp_path / "a", 5, seed=7, name="x")
    b = write_dataset(tmp_path / "b", 3, seed=7, name="x")
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    for i in range(3):
        assert digest(a.parent / "images" / f"x_{i:05d}.jpg") == digest(b.parent / "images" / f"x_{i:05d}.jpg")
    ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ja["annotations"][: len(jb["annotations"])] == jb["annotations"]
    other = write_dataset(tmp_path / "c", 1, seed=8, name="x")
    assert digest(other.parent / "images" / "x_00000.jpg") != digest(a.parent / "images" / "x_00000.jpg")


def test_valid_coco_with_one_to_six_objects_of_every_class(tmp_path):
    path = write_dataset(tmp_path, 40, seed=1)
    doc, report = CocoDocument.load(path)
    assert not report.warnings
    assert [c["name"] for c in doc.categories] == list(CLASSES)
    counts = [len(doc.annotations_for(im["id"])) for im in doc.images]
    assert min(counts) >= 1 and max(counts) <= 6 and len(set(counts)) >= 4
    assert {a["category_id"] for a in doc.annotations} == {1, 2, 3, 4, 5}
    for im in doc.images:
        for a in doc.annotations_for(im["id"]):
            x, y, w, h = a["bbox"]
            assert x >= 0 and y >= 0 and x + w <= im["width"] + 1e-6 and y + h <= im["height"] + 1e-6
            assert w >= 0.08 * min(im["width"], im["height"]) - 1e-6


def test_boxes_frame_the_saturated_shape_pixels():
    """Backgrounds are muted and shapes saturated: inside each box, the saturated pixels reach
    every edge of the box (within anti-aliasing), and there are none far outside all boxes."""
    for index in range(6):
        image, objects = make_image(5, index)
        rgb = np.asarray(image, dtype=np.float32)
        saturation = rgb.max(2) - rgb.min(2)
        shape = saturation > 110
        covered = np.zeros_like(shape)
        for _, (x, y, w, h) in objects:
            x0, y0, x1, y1 = int(x), int(y), int(np.ceil(x + w)), int(np.ceil(y + h))
            covered[max(y0 - 2, 0):y1 + 2, max(x0 - 2, 0):x1 + 2] = True
            inside = shape[y0:y1, x0:x1]
            assert inside.any()
            rows, cols = np.nonzero(inside)
            assert rows.min() <= 3 and cols.min() <= 3
            assert rows.max() >= inside.shape[0] - 4 and cols.max() >= inside.shape[1] - 4
        solid = binary_opening(shape, np.ones((3, 3), bool))  # not single noisy background pixels
        assert (solid & ~covered).sum() < 0.001 * shape.size
