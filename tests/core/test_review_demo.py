"""The review queue with the bundled demo model: per-layer outputs, the proof on synthetic images
with injected mistakes, the generator's progress and cancellation, the CLI (labelled, with a broken
image and renumbered categories; unlabelled, with a near-duplicate), and cross-fitting on the tiny
config (slow)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from detr_core.cli.main import main
from detr_core.data.synthetic import write_dataset
from detr_core.infer.detector import Detector
from detr_core.review import (ClassMapping, ReviewConfig, ReviewQueue, inject_mistakes, iter_labelled,
                              labels_by_image, rank_quality, reason_accuracy, score_image)
from detr_core.review.scan import scan

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "models" / "demo.pth"
PROOF_IMAGES = 30
PROOF_SEEDS = range(6)  # injections over the same images: 3 mistakes each, 18 in all


@pytest.fixture(scope="module")
def detector():
    return Detector.from_checkpoint(DEMO, device="cpu")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """Held-out synthetic images (seed 31: neither the demo model's training seed 1 nor the set
    the review's defaults were chosen on, seed 5)."""
    folder = tmp_path_factory.mktemp("review_synth")
    write_dataset(folder, PROOF_IMAGES, seed=31, name="rev")
    return folder


def test_detector_gives_every_decoder_layer_on_request(detector, synthetic):
    image = synthetic / "images" / "rev_00000.jpg"
    plain = detector(image)
    det = detector(image, layers=True)
    L, Q = detector.config.dec_layers, detector.config.num_queries
    assert plain.layer_logits is None and plain.layer_boxes_cxcywh is None
    assert det.layer_logits.shape == (L, Q, detector.config.num_classes + 1)
    assert det.layer_boxes_cxcywh.shape == (L, Q, 4)
    np.testing.assert_allclose(det.layer_logits[-1], det.logits, atol=1e-5)
    np.testing.assert_allclose(det.layer_boxes_cxcywh[-1], det.boxes_cxcywh, atol=1e-6)
    np.testing.assert_allclose(det.logits, plain.logits, atol=1e-5)  # asking for layers changes nothing
    assert not np.allclose(det.layer_logits[0], det.layer_logits[-1])


def test_proof_mistakes_rank_in_the_top_fifth_with_the_right_reason(detector, synthetic):
    coco = json.loads((synthetic / "annotations.json").read_text())
    mapping = ClassMapping.build(detector.class_names, coco["categories"], detector.category_ids)
    paths = [synthetic / "images" / im["file_name"] for im in coco["images"]]
    predictions = [s.predictions for s in scan(detector, paths, batch_size=6)]  # the labels do not matter
    found = total = right = 0
    random = []
    for seed in PROOF_SEEDS:
        bad, mistakes = inject_mistakes(coco, fraction=0.1, seed=seed)
        reviews = [score_image(labels, p, detector.class_names, ReviewConfig())
                   for labels, p in zip(labels_by_image(bad, mapping), predictions)]
        ranked = sorted(reviews, key=lambda r: -r.score)
        top20 = rank_quality(ranked, mistakes, (0.2,))[0]
        found += round(top20.recall * len(mistakes))
        total += len(mistakes)
        right += sum(r for r, _ in reason_accuracy(ranked, mistakes).values())
        shuffled = [ranked[i] for i in np.random.default_rng(seed).permutation(len(ranked))]
        random.append(rank_quality(shuffled, mistakes, (0.2,))[0].recall)
    assert total == 3 * len(PROOF_SEEDS)
    assert found / total >= 0.9, f"{found} of {total} mistakes in the top 20 % (random order: {np.mean(random):.2f})"
    assert right / total >= 0.8, f"{right} of {total} mistakes with the right kind of reason"


def test_iter_labelled_reports_progress_and_stops_when_asked(detector, synthetic):
    coco = json.loads((synthetic / "annotations.json").read_text())
    coco["images"] = coco["images"][:5]
    progress = []
    reviews = list(iter_labelled(detector, coco, synthetic / "images", batch_size=2,
                                 on_progress=lambda done, total: progress.append((done, total)),
                                 should_stop=lambda: len(progress) >= 2))
    assert [r.file_name for r in reviews] == ["rev_00000.jpg", "rev_00001.jpg"]
    assert progress == [(1, 5), (2, 5)]


def _small_copy(synthetic: Path, folder: Path, images: int) -> Path:
    """The first `images` images, with their categories renumbered (ids 10.., reversed order)."""
    coco = json.loads((synthetic / "annotations.json").read_text())
    coco["images"] = coco["images"][:images]
    keep = {im["id"] for im in coco["images"]}
    new_id = {c["id"]: 10 + len(coco["categories"]) - i for i, c in enumerate(coco["categories"])}
    coco["annotations"] = [dict(a, category_id=new_id[a["category_id"]]) for a in coco["annotations"]
                           if a["image_id"] in keep]
    coco["categories"] = [dict(c, id=new_id[c["id"]]) for c in coco["categories"]]
    (folder / "images").mkdir(parents=True)
    for im in coco["images"]:
        shutil.copy(synthetic / "images" / im["file_name"], folder / "images" / im["file_name"])
    path = folder / "annotations.json"
    path.write_text(json.dumps(coco))
    return path


def test_cli_labelled_review_lists_a_broken_image_and_maps_classes(synthetic, tmp_path, capsys):
    path = _small_copy(synthetic, tmp_path / "data", 4)
    coco = json.loads(path.read_text())
    coco["images"].append({"id": 99, "file_name": "broken.jpg", "width": 300, "height": 300})
    (tmp_path / "data" / "images" / "broken.jpg").write_bytes(b"not a jpeg")
    path.write_text(json.dumps(coco))
    out = tmp_path / "findings.json"
    code = main(["review", "--checkpoint", str(DEMO), "--json", str(path), "--out", str(out), "--device", "cpu",
                 "--set", "confident=0.85", "--jsonl", "--batch-size", "2"])
    captured = capsys.readouterr()
    err = captured.err
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert [e["type"] for e in events] == ["queue"] + ["image"] * 5 + ["done"]  # as they arrive, in file order
    assert "by name" in events[0]["class_mapping"] and events[0]["honesty"]["status"]
    assert [e["file_name"] for e in events[1:6]] == [im["file_name"] for im in coco["images"]]
    assert events[-1]["counts"]["failed"] == 1
    assert code == 1  # one image could not be read
    data = json.loads(out.read_text())
    assert data["kind"] == "labelled" and data["config"]["confident"] == 0.85
    assert [f["file_name"] for f in data["failed"]] == ["broken.jpg"] and "broken.jpg" in data["failed"][0]["error"]
    assert len(data["images"]) == 4
    assert data["images"] == sorted(data["images"], key=lambda r: -r["score"])
    assert "by name" in data["class_mapping"]
    assert data["honesty"]["status"] in ("out-of-sample", "unknown")  # its training file is not here
    wrong = [f for r in data["images"] for f in r["findings"] if f["kind"] == "wrong_class"]
    assert not wrong, wrong  # renumbered categories are mapped back, not taken for class swaps
    assert "skipped: " in err and "broken.jpg" in err and "images scored" in err
    assert ReviewQueue.read(out).counts()["scored"] == 4


def test_cli_unlabelled_ranking_spreads_a_near_duplicate(synthetic, tmp_path, capsys):
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    for i in range(3):
        shutil.copy(synthetic / "images" / f"rev_{i:05d}.jpg", folder / f"im_{i}.jpg")
    from PIL import Image

    Image.open(folder / "im_0.jpg").resize((200, 160)).save(folder / "im_0_small.jpg", quality=80)
    out = tmp_path / "queue.json"
    assert main(["review", "-c", str(DEMO), "--images", str(folder), "--out", str(out), "--device", "cpu",
                 "--previous", str(DEMO)]) == 0
    data = json.loads(out.read_text())
    assert data["kind"] == "unlabelled" and len(data["images"]) == 4
    names = [r["file_name"] for r in data["images"]]
    assert set(names) == {"im_0.jpg", "im_1.jpg", "im_2.jpg", "im_0_small.jpg"}
    dup = {r["file_name"]: r.get("near_duplicate_of") for r in data["images"]}
    pair = {"im_0.jpg", "im_0_small.jpg"}
    assert {k for k, v in dup.items() if v} < pair and names[-1] in pair  # the copy waits until the end
    for r in data["images"]:
        assert set(r["uncertainty"]) == {"margin", "entropy", "layers", "previous"}
        assert r["uncertainty"]["previous"] == 0.0  # the same model twice agrees with itself


def test_cli_refuses_bad_usage(tmp_path, capsys):
    out = tmp_path / "f.json"
    assert main(["review", "-c", str(DEMO), "--out", str(out)]) == 1
    assert main(["review", "-c", str(DEMO), "--images", str(tmp_path), "--folds", "2", "--out", str(out)]) == 1
    assert main(["review", "-c", str(DEMO), "--images", str(tmp_path), "--set", "nope=1", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "give --json" in err and "--folds needs --json" in err and "--set nope=1" in err


@pytest.mark.slow
def test_cli_cross_fitted_review_trains_a_tiny_model_per_fold(synthetic, tmp_path, capsys):
    path = _small_copy(synthetic, tmp_path / "data", 4)
    out = tmp_path / "findings.json"
    code = main(["review", "-c", str(DEMO), "--json", str(path), "--out", str(out), "--device", "cpu",
                 "--folds", "2", "--fold-train", "--config tiny --resolution 256 --epochs 1 --stop-after 1 "
                                                 "--batch-size 2 --workers 0 --device cpu"])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["honesty"]["status"] == "cross-fitted"
    assert sorted(r["file_name"] for r in data["images"]) == [f"rev_{i:05d}.jpg" for i in range(4)]
    assert all(r["in_training"] is False for r in data["images"])
    for fold in (0, 1):
        train = json.loads((tmp_path / "findings_folds" / f"fold_{fold}" / "train.json").read_text())
        assert len(train["images"]) == 2
        assert (tmp_path / "findings_folds" / f"fold_{fold}" / "run" / "checkpoint.pth").is_file()
    held = [{im["file_name"] for im in json.loads((tmp_path / "findings_folds" / f"fold_{f}" / "train.json")
                                                  .read_text())["images"]} for f in (0, 1)]
    assert not held[0] & held[1]  # each fold trains on the other's images


def test_explain_shows_the_query_behind_a_missing_box(detector, synthetic):
    from detr_core.review import explain

    coco = json.loads((synthetic / "annotations.json").read_text())
    coco["images"] = coco["images"][:1]
    removed = next(a for a in coco["annotations"] if a["image_id"] == coco["images"][0]["id"])
    coco["annotations"] = [a for a in coco["annotations"] if a is not removed]
    review = next(iter_labelled(detector, coco, synthetic / "images"))
    finding = next(f for f in review.findings if f.kind == "missing")
    why = explain(detector, synthetic / "images" / review.file_name, finding)
    assert why.query == finding.query
    assert why.distribution[0] == (finding.model_class, pytest.approx(finding.model_score, abs=1e-4))
    assert len(why.distribution) == detector.config.num_classes + 1
    assert len(why.layer_classes) == detector.config.dec_layers and why.layer_classes[-1] == finding.model_class
    np.testing.assert_allclose(why.layer_boxes_xyxy[-1], finding.model_box, atol=0.02)
    x0, y0, x1, y1 = (int(round(v)) for v in finding.model_box)
    inside = why.attention[max(y0, 0):y1, max(x0, 0):x1].sum()
    share = (x1 - x0) * (y1 - y0) / why.attention.size
    assert why.attention.sum() == pytest.approx(1.0) and inside > 2 * share  # it looked at the object


def test_cli_ranks_the_images_an_image_list_names(synthetic, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    chosen = [synthetic / "images" / f"rev_{i:05d}.jpg" for i in (2, 0)]
    listing.write_text("".join(f"{p}\n" for p in chosen) + "\n")
    out = tmp_path / "queue.json"
    assert main(["review", "-c", str(DEMO), "--image-list", str(listing), "--out", str(out), "--device", "cpu"]) == 0
    data = json.loads(out.read_text())
    assert data["kind"] == "unlabelled" and {r["file_name"] for r in data["images"]} == {p.as_posix() for p in chosen}
    assert main(["review", "-c", str(DEMO), "--image-list", str(tmp_path / "nope.txt"), "--out", str(out)]) == 1
    assert f"{tmp_path / 'nope.txt'}: cannot read the image list" in capsys.readouterr().err
