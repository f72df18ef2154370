"""A model whose classes do not match the file: model classes are mapped to the file's categories
by id or by name, findings come only from mapped classes, the queue says how many mapped and which
did not, and a file none of the model's classes maps to is refused with one line (core, CLI)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detr_core.cli.main import main
from detr_core.data.synthetic import write_dataset
from detr_core.errors import DatasetError
from detr_core.review import ClassMapping, ImageLabels, ImagePredictions, find_issues, review_labelled

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "models" / "demo.pth"
NAMES = ["circle", "square", "star"]
W, H = 400, 300
BOX_A, BOX_B = (40, 40, 140, 140), (220, 120, 320, 220)


def _preds(objects, queries: int = 8) -> ImagePredictions:
    """objects: [(class, p, (x0, y0, x1, y1))]; the other queries say "no object"."""
    K = len(NAMES)
    probs = np.full((queries, K + 1), 0.01 / K)
    probs[:, -1] = 0.99
    boxes = np.tile([0.05, 0.05, 0.02, 0.02], (queries, 1)).astype(np.float64)
    for q, (k, p, (x0, y0, x1, y1)) in enumerate(objects):
        probs[q] = (1 - p) / K
        probs[q, k] = p
        boxes[q] = [(x0 + x1) / 2 / W, (y0 + y1) / 2 / H, (x1 - x0) / W, (y1 - y0) / H]
    cx, cy, w, h = boxes.T
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1) * [W, H, W, H]
    return ImagePredictions((W, H), probs, xyxy, boxes)


def _labels(boxes, classes) -> ImageLabels:
    n = len(boxes)
    return ImageLabels(1, "a.jpg", W, H, np.arange(1, n + 1), np.array(classes) + 1, np.array(classes),
                       np.array(boxes, dtype=np.float32).reshape(-1, 4))


def test_mapping_names_the_unmatched_model_classes_and_refuses_when_none_match(tmp_path):
    some = ClassMapping.build(NAMES, [{"id": 4, "name": "Circle"}, {"id": 5, "name": "dog"}])
    assert some.mapped_classes == {0} and some.unmatched == ("square", "star")
    assert some.note.startswith("model classes mapped by name: 1 of 3; unmatched: square, star")
    assert "dog" in some.note
    some.require_some(tmp_path / "a.json")  # one class maps: fine
    none = ClassMapping.build(NAMES, [{"id": 1, "name": "dog"}, {"id": 2, "name": "cat"}], [1, 2, 3])
    assert none.mapped_classes == frozenset()
    with pytest.raises(DatasetError) as refused:
        none.require_some(tmp_path / "a.json")
    message = str(refused.value)
    assert "\n" not in message and str(tmp_path / "a.json") in message
    assert "none of the model's 3 classes (circle, square, star)" in message and "dog, cat" in message


def test_unmapped_classes_claim_no_missing_box_and_no_class_swap():
    labels = _labels([BOX_A], [0])
    preds = _preds([(2, 0.97, BOX_A), (2, 0.97, BOX_B)])  # "star" on the circle, and a star with no box
    every, _ = find_issues(labels, preds, NAMES)
    assert {f.kind for f in every} >= {"missing", "wrong_class"}
    assert {f.model_class for f in every if f.kind in ("missing", "wrong_class")} == {"star"}
    mapped, _ = find_issues(labels, preds, NAMES, classes=frozenset({0, 1}))  # the file has no star
    assert not [f for f in mapped if f.kind in ("missing", "wrong_class")], mapped


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mapping")
    write_dataset(folder, 4, seed=31, name="map")
    return folder


def _rewrite(shapes: Path, name: str, categories) -> Path:
    """The synthetic file with only `categories` ({old name: new name}) and their boxes, renumbered
    (ids 100..: the model's category ids say nothing, names decide)."""
    coco = json.loads((shapes / "annotations.json").read_text())
    keep = {c["id"]: categories[c["name"]] for c in coco["categories"] if c["name"] in categories}
    coco["categories"] = [{"id": 100 + cid, "name": new} for cid, new in keep.items()]
    coco["annotations"] = [dict(a, category_id=100 + a["category_id"]) for a in coco["annotations"]
                           if a["category_id"] in keep]
    path = shapes / name
    path.write_text(json.dumps(coco))
    return path


def test_review_with_three_of_five_classes_says_so_and_flags_only_those(shapes):
    path = _rewrite(shapes, "three.json", {"circle": "circle", "square": "Square", "triangle": "triangle"})
    coco = json.loads((shapes / "annotations.json").read_text())
    star_or_cross = {c["id"] for c in coco["categories"] if c["name"] in ("star", "cross")}
    assert any(a["category_id"] in star_or_cross for a in coco["annotations"])  # the model sees them
    three = json.loads(path.read_text())
    removed = three["annotations"].pop(0)  # and one mapped box is missing
    path.write_text(json.dumps(three))
    queue = review_labelled(DEMO, path, shapes / "images", device="cpu")
    assert queue.class_mapping.startswith("model classes mapped by name: 3 of 5; unmatched: star, cross")
    classes = {f.model_class for r in queue.images for f in r.findings if f.model_class}
    assert classes and not classes & {"star", "cross"}, classes
    missing = [r for r in queue.images for f in r.findings if f.kind == "missing"]
    assert [r.image_id for r in missing] == [removed["image_id"]]


def test_review_refuses_a_file_none_of_the_models_classes_maps_to(shapes, capsys):
    path = _rewrite(shapes, "animals.json", {"circle": "dog", "square": "cat"})
    with pytest.raises(DatasetError, match="none of the model's 5 classes"):
        review_labelled(DEMO, path, shapes / "images", device="cpu")
    out = shapes / "never.json"
    assert main(["review", "-c", str(DEMO), "--json", str(path), "--images", str(shapes / "images"),
                 "--out", str(out), "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("detr-workbench review: error: ") and str(path) in err[0]
    assert "dog, cat" in err[0] and not out.exists()
