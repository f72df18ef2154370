"""Model comparison (detr_core.compare): AP parity with pycocotools, object outcomes that add up,
the paired bootstrap, class sets that differ, unreadable images, and the `compare` command."""
from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest

from detr_core import load_checkpoint, save_checkpoint
from detr_core.cli.main import main
from detr_core.coco import CocoDocument
from detr_core.coco.metrics import coco_metrics
from detr_core.compare import Boxes, CompareConfig, compare_checkpoints, compare_results, image_outcomes
from detr_core.compare.fast_ap import ImageMatches
from detr_core.infer.detector import Detector
from detr_core.train.evaluate import predict

from sample_helpers import changed_demo_model, sample_subset
from test_eval_coco import _fake_results

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
DEMO = ROOT / "resources" / "models" / "demo.pth"


@pytest.fixture(scope="module")
def changed_model(tmp_path_factory) -> Path:
    """A copy of the demo model whose heads were moved: a different, worse model (a real
    checkpoint in the project format, with the demo model's classes and category ids)."""
    return changed_demo_model(tmp_path_factory.mktemp("models") / "changed.pth")


@pytest.fixture(scope="module")
def samples_gt() -> dict:
    doc, _ = CocoDocument.load(SAMPLES / "annotations.json")
    return doc.to_json()


def _subset(folder: Path, n: int) -> Path:
    return sample_subset(folder, n)[0]


def _results(checkpoint, gt) -> list[dict]:
    loaded = load_checkpoint(checkpoint)
    doc, _ = CocoDocument.load(SAMPLES / "annotations.json")
    detector = Detector(loaded.model, loaded.config, loaded.class_names, device="cpu")
    records = [type("R", (), {"image_id": im["id"], "path": doc.image_path(im["id"])})() for im in gt["images"]]
    mapping = {i: int(c) for i, c in enumerate(loaded.metadata["category_ids"])}
    return predict(detector, records, mapping, batch_size=4)


@pytest.fixture(scope="module")
def results(samples_gt, changed_model) -> tuple[list, list]:
    return _results(DEMO, samples_gt), _results(changed_model, samples_gt)


def _pycoco_stats(gt: dict, results: list[dict]) -> dict:
    m = coco_metrics(gt, results)
    return {k: m[k] for k in ("AP", "AP50", "AP75", "AR100")} | {"per_class": m["per_class"]}


def _assert_same(summary: dict, reference: dict, names: dict) -> None:
    for key in ("AP", "AP50", "AP75", "AR100"):
        assert summary[key] == pytest.approx(reference[key], abs=1e-12), key
    for cat_id, ap in summary["per_class"].items():
        ref = reference["per_class"][names[cat_id]]
        assert (ap is None and ref is None) or ap == pytest.approx(ref, abs=1e-12)


def test_fast_ap_equals_pycocotools_on_real_labels(shared_data):
    gt = json.loads((shared_data / "facemask_coco" / "annotations" / "custom_val.json").read_text())
    names = {c["id"]: c["name"] for c in gt["categories"]}
    for seed in (0, 1):
        res = _fake_results(gt, seed)
        _assert_same(ImageMatches.from_results(gt, res).summary(), _pycoco_stats(gt, res), names)


@pytest.mark.slow
def test_fast_ap_over_a_resample_equals_pycocotools_on_the_duplicated_images(samples_gt, results):
    """A resampled image list (with repeats) scores as pycocotools scores a file in which those
    images really appear that many times."""
    res = results[1]
    matches = ImageMatches.from_results(samples_gt, res)
    rows = np.random.default_rng(3).integers(0, len(matches.image_ids), size=len(matches.image_ids))
    dup = {**samples_gt, "images": [], "annotations": []}
    dup_res, next_ann = [], 1
    for new_id, row in enumerate(rows, start=1):
        old_id = matches.image_ids[row]
        image = next(im for im in samples_gt["images"] if im["id"] == old_id)
        dup["images"].append({**image, "id": new_id})
        for ann in samples_gt["annotations"]:
            if ann["image_id"] == old_id:
                dup["annotations"].append({**ann, "id": next_ann, "image_id": new_id})
                next_ann += 1
        dup_res += [{**r, "image_id": new_id} for r in res if r["image_id"] == old_id]
    names = {c["id"]: c["name"] for c in samples_gt["categories"]}
    _assert_same(matches.summary(rows), _pycoco_stats(dup, dup_res), names)


def test_a_model_compared_with_itself_changes_nothing(samples_gt, results):
    c = compare_results(samples_gt, results[0], copy.deepcopy(results[0]), CompareConfig(bootstrap=200))
    for d in c.deltas.values():
        assert d["delta"] == 0 and d["low"] == 0 and d["high"] == 0 and not d["significant"]
    assert c.counts["fixed"] == c.counts["broke"] == c.counts["new_fp"] == c.counts["removed_fp"] == 0
    assert c.counts["class_changed"] == c.counts["moved"] == 0
    assert c.errors_a == c.errors_b
    assert all(r["delta"] == 0 for r in c.per_class)


def _tp_fp(gt: dict, res: list[dict], threshold: float) -> tuple[int, int]:
    """True and false positives at IoU 0.5 among results >= threshold, counted by pycocotools."""
    kept = [r for r in res if r["score"] >= threshold]
    m = ImageMatches.from_results(gt, kept)
    tp = fp = 0
    for cell in m._cells.values():  # pycocotools' own per-image matches at IoU 0.5 (row 0)
        tp += int(np.count_nonzero(cell.matched[0] & ~cell.ignored[0]))
        fp += int(np.count_nonzero(~cell.matched[0] & ~cell.ignored[0]))
    return tp, fp


def test_object_outcomes_add_up_to_each_models_true_and_false_positives(samples_gt, results):
    config = CompareConfig(bootstrap=0)
    c = compare_results(samples_gt, *results, config)
    k = c.counts
    tp_a, fp_a = _tp_fp(samples_gt, results[0], config.threshold)
    tp_b, fp_b = _tp_fp(samples_gt, results[1], config.threshold)
    assert k["fixed"] + k["kept"] == tp_b and k["broke"] + k["kept"] == tp_a
    assert k["kept_fp"] + k["new_fp"] == fp_b and k["kept_fp"] + k["removed_fp"] == fp_a
    labels = sum(1 for a in samples_gt["annotations"] if not a.get("iscrowd"))
    assert k["fixed"] + k["broke"] + k["kept"] + k["missed"] == labels
    assert k["broke"] > 0 and k["moved"] > 0  # the changed model really is worse somewhere
    assert sum(c.broke_per_image.values()) == k["broke"]
    assert [r["delta"] for r in c.per_class] == sorted(r["delta"] for r in c.per_class)


@pytest.mark.slow
def test_bootstrap_interval_holds_the_pycocotools_delta_and_narrows_with_more_images(samples_gt, results):
    ids = sorted(im["id"] for im in samples_gt["images"])
    widths = []
    for n in (8, len(ids)):
        c = compare_results(samples_gt, *results, CompareConfig(bootstrap=300), image_ids=ids[:n])
        reference = (coco_metrics(samples_gt, results[1], ids[:n])["AP"]
                     - coco_metrics(samples_gt, results[0], ids[:n])["AP"])
        d = c.deltas["AP"]
        assert d["delta"] == pytest.approx(reference, abs=1e-12)
        assert d["low"] <= reference <= d["high"] and d["significant"]
        widths.append(d["high"] - d["low"])
    assert widths[1] < widths[0]


def _boxes(rows, ids=None) -> Boxes:
    a = np.asarray(rows, dtype=float).reshape(-1, 6)
    return Boxes(a[:, :4], a[:, 4].astype(int), a[:, 5], tuple(ids or range(len(a))))


def test_every_outcome_kind_on_a_hand_made_image():
    labels = _boxes([[0, 0, 10, 10, 1, 1], [20, 0, 30, 10, 1, 1], [40, 0, 50, 10, 2, 1], [60, 0, 70, 10, 1, 1]])
    a = _boxes([[0, 0, 10, 10, 1, .9],       # finds label 0
                [40, 0, 50, 10, 1, .9],      # wrong class on label 2: classification error
                [100, 100, 110, 110, 1, .9],  # background false positive, gone in B
                [60, 0, 70, 10, 1, .8]])     # finds label 3 exactly
    b = _boxes([[20, 0, 30, 10, 1, .9],      # finds label 1 (A missed it)
                [40, 0, 50, 10, 2, .9],      # label 2 now right: fixed, and its class changed
                [200, 200, 210, 210, 1, .9],  # a new background false positive
                [61, 0, 71, 10, 1, .8]])     # label 3 still found, moved by one pixel
    records, errors_a, errors_b = image_outcomes(7, labels, a, b, move_delta=0.1)
    by = {}
    for r in records:
        by.setdefault(r["outcome"], []).append(r)
    assert [r["label_id"] for r in by["broke"]] == [0]
    assert sorted(r["label_id"] for r in by["fixed"]) == [1, 2]
    assert [r["label_id"] for r in by["kept"]] == [3] and by["kept"][0]["moved"]
    assert by["kept"][0]["iou_change"] == pytest.approx(9 * 10 / (11 * 10) - 1, abs=1e-4)
    assert len(by["new_fp"]) == 1 and by["new_fp"][0]["b"]["bbox_xyxy"] == [200, 200, 210, 210]
    assert len(by["removed_fp"]) == 2  # A's wrong class and its background box
    assert len(by["class_changed"]) == 1 and by["class_changed"][0]["a"]["class"] == 1
    assert errors_a["classification"] == 1 and errors_a["background"] == 1
    # nothing of B is near label 0, nothing of A near label 1: each is TIDE-"missed" once
    assert errors_b["background"] == 1 and errors_b["missed"] == 1 and errors_a["missed"] == 1
    far = image_outcomes(0, _boxes([[20, 0, 30, 10, 1, 1]]), _boxes([[0, 0, 10, 10, 1, .9]]), _boxes([]))
    assert far[1]["missed"] == 1 and far[1]["background"] == 1


def test_checkpoints_with_different_classes_compare_on_the_shared_ones(changed_model, tmp_path):
    loaded = load_checkpoint(changed_model)
    names = list(loaded.class_names)
    names[names.index("star")] = "hexagon"
    renamed = tmp_path / "renamed.pth"
    metadata = {k: v for k, v in loaded.metadata.items() if k != "category_ids"}
    save_checkpoint(renamed, loaded.model.float(), loaded.config, names, metadata=metadata)
    c = compare_checkpoints(DEMO, renamed, _subset(tmp_path / "few", 6), device="cpu",
                            config=CompareConfig(bootstrap=50))
    assert c.left_out_classes == ["star"]
    assert "star" not in {r["class"] for r in c.per_class} and len(c.per_class) == 4


def test_unreadable_images_are_skipped_and_counted(tmp_path):
    gt_path = _subset(tmp_path / "few", 4)
    broken = sorted((gt_path.parent / "images").iterdir())[0]
    broken.write_bytes(b"not an image")
    c = compare_checkpoints(DEMO, DEMO, gt_path, device="cpu", config=CompareConfig(bootstrap=0))
    assert len(c.skipped) == 1 and broken.name in c.skipped[0]
    assert c.images == 3


def test_compare_command_prints_the_summary_and_writes_every_object(samples_gt, results, tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(results[0]))
    b.write_text(json.dumps(results[1]))
    out = tmp_path / "report.json"
    code = main(["compare", "--a", str(a), "--b", str(b), "--json", str(SAMPLES / "annotations.json"),
                 "--out", str(out), "--bootstrap", "100"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "AP50" in printed and "worse" in printed and "broke" in printed
    report = json.loads(out.read_text())
    direct = compare_results(samples_gt, *results, CompareConfig(bootstrap=100))
    assert report["counts"] == direct.counts
    assert report["deltas"]["AP"]["delta"] == pytest.approx(direct.deltas["AP"]["delta"])
    assert len(report["objects"]) == len(direct.records)


def test_compare_command_refuses_mixed_inputs_in_one_line(tmp_path, capsys):
    a = tmp_path / "a.json"
    a.write_text("[]")
    code = main(["compare", "--a", str(a), "--b", str(DEMO), "--json", str(SAMPLES / "annotations.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "both be checkpoints" in err[0]
