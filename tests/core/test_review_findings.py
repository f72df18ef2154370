"""Per-box findings on one image, from hand-made predictions: every kind with its reason, the
DETR extras, the matcher's query, and the edge cases (no labels, no predictions, unknown class)."""
from __future__ import annotations

import numpy as np
import pytest

from detr_core.review import (ClassMapping, ImageLabels, ImagePredictions, ReviewConfig, find_issues,
                              matched_queries)

NAMES = ["circle", "square", "star"]
W, H = 400, 300


def preds(objects, queries: int = 10, layers: int = 0) -> ImagePredictions:
    """objects: [(class, p, (x0, y0, x1, y1))]; the other queries are background (p(no object) 0.99)."""
    K = len(NAMES)
    probs = np.full((queries, K + 1), 0.01 / K)
    probs[:, -1] = 0.99
    boxes = np.tile([0.05, 0.05, 0.02, 0.02], (queries, 1)).astype(np.float64)  # tiny, in a corner
    for q, (k, p, (x0, y0, x1, y1)) in enumerate(objects):
        probs[q] = (1 - p) * 0.1 / (K - 1)  # the rest mostly "no object"
        probs[q, -1] = (1 - p) * 0.9
        probs[q, k] = p
        boxes[q] = [(x0 + x1) / 2 / W, (y0 + y1) / 2 / H, (x1 - x0) / W, (y1 - y0) / H]
    cx, cy, w, h = boxes.T
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1) * [W, H, W, H]
    layer_probs = layer_boxes = None
    if layers:
        layer_probs = np.stack([probs] * layers)
        layer_boxes = np.stack([boxes] * layers)
        layer_probs[0, 0] = np.roll(probs[0], 1)  # the first layer disagrees about query 0
    return ImagePredictions((W, H), probs, xyxy, boxes, layer_probs, layer_boxes)


def labels(boxes, classes, ids=None) -> ImageLabels:
    n = len(boxes)
    ids = np.arange(1, n + 1) if ids is None else np.array(ids)
    return ImageLabels(1, "a.jpg", W, H, ids.astype(np.int64), np.array(classes, dtype=np.int64) + 1,
                       np.array(classes, dtype=np.int64), np.array(boxes, dtype=np.float32).reshape(-1, 4))


def kinds(findings):
    return [f.kind for f in findings]


BOX_A = (40, 40, 140, 140)
BOX_B = (220, 120, 320, 220)


def test_clean_image_has_no_findings_and_high_quality():
    found, quality = find_issues(labels([BOX_A, BOX_B], [0, 2]),
                                 preds([(0, 0.97, BOX_A), (2, 0.96, BOX_B)]), NAMES)
    assert found == []
    assert quality > 0.8


def test_missing_box_names_the_class_and_score():
    found, quality = find_issues(labels([BOX_A], [0]), preds([(0, 0.97, BOX_A), (2, 0.97, BOX_B)]), NAMES)
    assert kinds(found) == ["missing"]
    f = found[0]
    assert f.reason == "model sees star 0.97 here; no box"
    assert f.annotation_id is None and f.model_class == "star" and f.query == 1
    assert f.model_box == pytest.approx(BOX_B, abs=0.01)
    assert f.score > 0.9 and quality < 0.5


def test_duplicate_queries_are_one_object_and_their_probability_adds_up():
    split = [(2, 0.6, BOX_B), (2, 0.6, (222, 121, 321, 222))]  # 1 - 0.4 * 0.4 = 0.84 > confident
    found, _ = find_issues(labels([], []), preds(split), NAMES)
    assert kinds(found) == ["missing"]
    found, _ = find_issues(labels([], []), preds(split), NAMES, ReviewConfig(merge_iou=0.0))
    assert found == []  # each query alone is below "confident"


def test_a_prediction_touching_a_label_can_still_be_missing():
    touching = (135, 40, 235, 140)  # IoU with BOX_A about 0.03
    found, _ = find_issues(labels([BOX_A], [0]), preds([(0, 0.97, BOX_A), (1, 0.96, touching)]), NAMES)
    assert kinds(found) == ["missing"] and found[0].model_class == "square"


def test_badly_placed_box_reports_the_iou_and_offers_the_model_box():
    shifted = (75, 40, 175, 140)  # IoU with BOX_A 0.48
    found, _ = find_issues(labels([shifted], [0]), preds([(0, 0.97, BOX_A)]), NAMES)
    assert kinds(found) == ["badly_placed"]
    assert found[0].reason == "edges off: best prediction IoU 0.48"
    assert found[0].model_box == pytest.approx(BOX_A, abs=0.01) and found[0].iou == pytest.approx(0.48, abs=0.01)


def test_wrong_class_names_the_models_class():
    found, _ = find_issues(labels([BOX_A], [0]), preds([(1, 0.98, BOX_A)]), NAMES)
    assert kinds(found) == ["wrong_class"]
    assert found[0].reason == "class swap? model says square 0.98"
    assert found[0].label_class == "circle" and found[0].model_class == "square"


def test_spurious_box_has_no_prediction_near_it():
    found, _ = find_issues(labels([BOX_A, BOX_B], [0, 0]), preds([(0, 0.97, BOX_A)]), NAMES)
    assert kinds(found) == ["spurious"]
    assert found[0].annotation_id == 2 and found[0].reason.startswith("no prediction near it")


@pytest.mark.parametrize("classes, kind", [([0, 1], "conflict"), ([0, 0], "duplicate")])
def test_two_labels_on_one_object(classes, kind):
    copy = (41, 40, 141, 140)  # IoU 0.98
    found, _ = find_issues(labels([BOX_A, copy], classes), preds([(0, 0.97, BOX_A)]), NAMES)
    pair = [f for f in found if f.kind == kind]
    assert len(pair) == 2 and {f.annotation_id for f in pair} == {1, 2}
    assert pair[0].annotation_id == 2 and pair[0].other_annotation_id == 1  # the later copy first
    assert "wrong_class" not in kinds(found)  # a conflict is not also a class swap


def test_no_labels_and_no_predictions():
    found, quality = find_issues(labels([], []), preds([]), NAMES)
    assert found == [] and quality == pytest.approx(1.0)


def test_findings_carry_the_matched_query_and_its_class_distribution():
    shifted = (75, 40, 175, 140)
    p = preds([(2, 0.95, BOX_B), (0, 0.9, BOX_A)], layers=3)
    lab = labels([shifted, BOX_B], [0, 2])
    assert list(matched_queries(lab, p)) == [1, 0]
    f = find_issues(lab, p, NAMES)[0][0]
    assert f.kind == "badly_placed" and f.query == 1
    assert f.top_classes[0] == ("circle", 0.9)
    assert 0 < f.query_entropy < 1
    assert f.layer_class_spread == pytest.approx(0.0) and f.layer_box_spread == pytest.approx(0.0)
    spread = p.layer_class_spread()
    tv = 0.5 * np.abs(np.roll(p.probs[0], 1) - p.probs[0]).sum()  # layer 0 of the 2 earlier ones
    assert spread.shape == (10,) and spread[0] == pytest.approx(tv / 2) and np.allclose(spread[1:], 0)


def test_labels_of_classes_the_model_does_not_know_are_not_checked():
    lab = labels([BOX_A, BOX_B], [0, 0])
    lab.classes[1] = -1  # a category the model has no class for
    found, _ = find_issues(lab, preds([(0, 0.97, BOX_A), (2, 0.97, BOX_B)]), NAMES)
    assert found == []  # neither spurious nor the model's star "missing" on it


def test_to_cleanlab_orders_rows_class_by_class():
    p = preds([(2, 0.9, BOX_B), (0, 0.5, BOX_A), (0, 0.04, BOX_B)])
    per_class, rows = p.to_cleanlab(0.05)
    assert [len(a) for a in per_class] == [1, 0, 1]
    assert list(rows) == [1, 0]
    assert per_class[2][0, :4] == pytest.approx(BOX_B, abs=0.01) and per_class[2][0, 4] == pytest.approx(0.9)


def test_class_mapping_by_id_by_name_and_unknown():
    same = ClassMapping.build(NAMES, [{"id": 1, "name": "circle"}, {"id": 2, "name": "square"},
                                      {"id": 3, "name": "star"}], [1, 2, 3])
    assert same.how == "ids" and same.note == "" and same.to_model == {1: 0, 2: 1, 3: 2}
    other = ClassMapping.build(NAMES, [{"id": 7, "name": "Star"}, {"id": 9, "name": "circle"},
                                       {"id": 4, "name": "dog"}], [1, 2, 3])
    assert other.how == "names" and other.to_model == {7: 2, 9: 0}
    assert other.unknown == ("dog",) and "by name" in other.note and "dog" in other.note
