"""The queue around the findings, without a model: ranking and findings.json, honesty, the
unlabelled terms and near-duplicate spreading, folds, loop statistics, injected mistakes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from detr_core.errors import DatasetError, WorkbenchError
from detr_core.review import (Finding, ImagePredictions, ImageReview, LoopStats, ReviewConfig, ReviewQueue,
                              check_honesty, inject_mistakes, make_folds, measure_loop, rank_quality,
                              read_loop_stats, reason_accuracy, spread_near_duplicates, uncertainty_terms,
                              write_loop_stats)
from detr_core.review.crossfit import fold_training_file
from detr_core.review.unlabelled import detection_disagreement


def coco(n_images: int = 10, per_image: int = 2) -> dict:
    images = [{"id": i + 1, "file_name": f"im_{i}.jpg", "width": 400, "height": 300} for i in range(n_images)]
    anns = []
    for im in images:
        for j in range(per_image):
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": 1 + j % 3,
                         "bbox": [20 + 150 * j, 30, 100, 90], "area": 9000, "iscrowd": 0})
    return {"images": images, "annotations": anns,
            "categories": [{"id": i, "name": n} for i, n in enumerate(["a", "b", "c"], 1)]}


def test_queue_ranks_by_score_lists_failures_and_round_trips(tmp_path):
    q = ReviewQueue("labelled", "demo", config=ReviewConfig(confident=0.9))
    f = Finding("missing", "model sees b 0.97 here; no box", 0.97, model_box=(1, 2, 3, 4), model_class="b",
                top_classes=(("b", 0.97), ("no object", 0.02)))
    q.add(ImageReview("low.jpg", 0.1, 1))
    q.add(ImageReview("broken.jpg", float("nan"), 2, status="failed", error="broken.jpg: not an image file"))
    q.add(ImageReview("high.jpg", 0.97, 3, findings=[f], quality=0.2))
    assert [r.file_name for r in q.ranked()] == ["high.jpg", "low.jpg"]
    assert q.counts() == {"images": 3, "scored": 2, "failed": 1, "findings": 1, "missing": 1}
    path = q.write(tmp_path / "findings.json")
    data = json.loads(path.read_text())
    assert data["images"][0]["findings"][0]["reason"] == "model sees b 0.97 here; no box"
    assert data["failed"] == [{"file_name": "broken.jpg", "error": "broken.jpg: not an image file"}]
    assert data["config"]["confident"] == 0.9
    back = ReviewQueue.read(path)
    assert back.ranked()[0].findings == [Finding.from_dict(f.to_dict())]
    assert back.config.confident == 0.9 and len(back.failed) == 1


def test_reading_a_bad_findings_file_names_it(tmp_path):
    bad = tmp_path / "f.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DatasetError, match="f.json: not a findings file"):
        ReviewQueue.read(bad)


def test_honesty_from_the_checkpoints_training_file(tmp_path):
    data = coco(4)
    train = tmp_path / "train.json"
    train.write_text(json.dumps({"images": data["images"][:2]}))
    assert check_honesty({}, data["images"]).status == "unknown"
    assert check_honesty({"train_json": str(tmp_path / "gone.json")}, data["images"]).status == "unknown"
    part = check_honesty({"train_json": str(train)}, data["images"])
    assert part.status == "partly in-sample" and part.in_training("im_0.jpg") and not part.in_training("im_3.jpg")
    assert check_honesty({"train_json": str(train)}, data["images"][2:]).status == "out-of-sample"
    assert check_honesty({"train_json": str(train)}, data["images"][:2]).status == "in-sample"
    same = check_honesty({"train_json": str(train)}, data["images"], reviewed_json=train)
    assert same.status == "in-sample" and "cross-fit" in same.detail


def _preds(probs, boxes_xyxy, layers=None):
    probs = np.asarray(probs, dtype=np.float64)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    cxcywh = np.stack([(boxes[:, 0] + boxes[:, 2]) / 800, (boxes[:, 1] + boxes[:, 3]) / 600,
                       (boxes[:, 2] - boxes[:, 0]) / 400, (boxes[:, 3] - boxes[:, 1]) / 300], 1)
    return ImagePredictions((400, 300), probs, boxes, cxcywh,
                            None if layers is None else np.asarray(layers, dtype=np.float64),
                            None if layers is None else np.stack([cxcywh] * len(layers)))


def test_uncertainty_terms_rise_with_doubt():
    box = [[10, 10, 110, 110], [200, 50, 300, 150]]
    sure = _preds([[0.98, 0.01, 0.01], [0.01, 0.01, 0.98]], box)
    torn = _preds([[0.49, 0.47, 0.04], [0.01, 0.01, 0.98]], box)
    s, t = uncertainty_terms(sure), uncertainty_terms(torn)
    assert set(s) == {"margin", "entropy"}
    assert t["margin"] > 0.9 > 0.1 > s["margin"] and t["entropy"] > s["entropy"]
    shaky = _preds([[0.98, 0.01, 0.01], [0.01, 0.01, 0.98]], box,
                   layers=[[[0.01, 0.98, 0.01], [0.01, 0.01, 0.98]], [[0.98, 0.01, 0.01], [0.01, 0.01, 0.98]]])
    assert uncertainty_terms(shaky)["layers"] > 0.9
    assert uncertainty_terms(sure, previous=sure)["previous"] == 0.0
    # `sure` detects one object (query 1 is background), `torn` none above detect_score: F1 0.
    assert uncertainty_terms(sure, previous=torn)["previous"] == 1.0


def test_detection_disagreement_is_one_minus_f1():
    a = _preds([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05]], [[0, 0, 100, 100], [200, 0, 300, 100]])
    b = _preds([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05]], [[2, 0, 100, 100], [200, 150, 300, 250]])  # 1 of 2 agrees
    assert detection_disagreement(a, b, 0.5) == pytest.approx(0.5)
    none = _preds([[0.01, 0.01, 0.98]], [[0, 0, 10, 10]])
    assert detection_disagreement(none, none, 0.5) == 0.0


def test_near_duplicates_wait_for_the_next_round():
    scene = "ffff0000ffff0000"
    nearly = "ffff0000ffff0001"  # 1 bit away
    other = "0f0f0f0f0f0f0f0f"
    reviews = [ImageReview("a1", 0.9, phash=scene), ImageReview("a2", 0.85, phash=nearly),
               ImageReview("b", 0.5, phash=other), ImageReview("a3", 0.8, phash=scene)]
    ranked = spread_near_duplicates(reviews, bits=6)
    assert [r.file_name for r in ranked] == ["a1", "b", "a2", "a3"]
    assert ranked[2].near_duplicate_of == "a1" and ranked[1].near_duplicate_of is None
    # Within 0 bits only the identical hash waits: a2 (1 bit away) is its own scene.
    assert [r.file_name for r in spread_near_duplicates(reviews, bits=0)] == ["a1", "a2", "b", "a3"]


def test_folds_cover_every_image_once_and_leave_theirs_out():
    data = coco(10)
    folds = make_folds(data, 3, seed=1)
    assert sorted(i for f in folds for i in f) == list(range(1, 11)) and sorted(map(len, folds)) == [3, 3, 4]
    assert make_folds(data, 3, seed=1) == folds
    train = fold_training_file(data, folds[0])
    assert not {im["id"] for im in train["images"]} & set(folds[0])
    assert all(a["image_id"] not in folds[0] for a in train["annotations"]) and train["categories"] == data["categories"]
    with pytest.raises(WorkbenchError, match="2 <= folds <= images"):
        make_folds(data, 11)


def test_loop_stats_count_what_happened_to_each_prelabel(tmp_path):
    prelabels = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100]},  # accepted
        {"image_id": 1, "category_id": 2, "bbox": [200, 0, 100, 100]},  # moved
        {"image_id": 1, "category_id": 1, "bbox": [0, 200, 100, 100]},  # reclassified
        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 50, 50]},  # deleted
        {"image_id": 2, "category_id": 3, "bbox": [300, 0, 50, 50], "annotation_id": 9},  # by id: moved far
    ]
    final = {"annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100]},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [220, 10, 100, 100]},
        {"id": 3, "image_id": 1, "category_id": 3, "bbox": [0, 200, 100, 100]},
        {"id": 9, "image_id": 2, "category_id": 3, "bbox": [100, 100, 50, 50]},
        {"id": 4, "image_id": 2, "category_id": 2, "bbox": [200, 200, 40, 40]},  # added by hand
        {"id": 5, "image_id": 3, "category_id": 2, "bbox": [0, 0, 40, 40]},  # image 3 was not pre-labelled
    ]}
    stats = measure_loop(prelabels, final)
    assert stats == LoopStats(images=2, prelabels=5, accepted=1, moved=2, reclassified=1, deleted=1, added=1)
    assert stats.accepted_rate == pytest.approx(0.2)
    assert measure_loop([], final, images={3}) == LoopStats(images=1, added=1)
    write_loop_stats(tmp_path, "v1", stats)
    write_loop_stats(tmp_path, "v2", LoopStats(images=1))
    assert read_loop_stats(tmp_path) == {"v1": stats, "v2": LoopStats(images=1)}
    assert json.loads((tmp_path / "review_loop.json").read_text())["versions"]["v1"]["accepted_rate"] == 0.2


def test_injected_mistakes_are_where_they_say_and_measured():
    data = coco(20, per_image=3)
    bad, mistakes = inject_mistakes(data, fraction=0.2, seed=3)
    assert [m.kind for m in mistakes] == ["removed", "swapped", "shifted", "duplicated"]
    assert len(bad["annotations"]) == len(data["annotations"]) - 1 + 1
    by_id = {a["id"]: a for a in bad["annotations"]}
    swapped = mistakes[1]
    original = {a["id"]: a for a in data["annotations"]}[swapped.annotation_id]
    assert by_id[swapped.annotation_id]["category_id"] != original["category_id"]
    assert inject_mistakes(data, fraction=0.2, seed=3) == (bad, mistakes)
    # A queue that puts exactly the mistaken images first, naming each right, scores perfectly.
    names = {"removed": "missing", "swapped": "wrong_class", "shifted": "badly_placed", "duplicated": "duplicate"}
    reviews = []
    for im in bad["images"]:
        m = next((m for m in mistakes if m.image_id == im["id"]), None)
        findings = [] if m is None else [Finding(names[m.kind], "", 0.9, annotation_id=m.annotation_id,
                                                 model_box=m.box_xyxy if m.annotation_id is None else None)]
        reviews.append(ImageReview(im["file_name"], 0.9 if m else 0.1, im["id"], findings=findings))
    ranked = sorted(reviews, key=lambda r: -r.score)
    top20 = rank_quality(ranked, mistakes, (0.2,))[0]
    assert (top20.images, top20.precision, top20.recall) == (4, 1.0, 1.0)
    assert reason_accuracy(ranked, mistakes) == {k: (1, 1) for k in names}
    assert rank_quality(ranked[::-1], mistakes, (0.2,))[0].recall == 0.0


@pytest.mark.slow
def test_the_review_imports_no_qt():
    import subprocess
    import sys

    code = ("import sys, detr_core.review.api, detr_core.review.findings, detr_core.cli.review; "
            "print([m for m in ('PySide6', 'pyqtgraph', 'app') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
