"""COCO evaluation: our numbers are pycocotools' numbers on the same files; the eval command in
both forms; per-class AP; bad result files; class mapping of checkpoints to ground truth."""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from detr_core.checkpoints import save_checkpoint
from detr_core.cli.main import main
from detr_core.coco.metrics import METRICS, coco_metrics, format_table
from detr_core.errors import DatasetError
from detr_core.train.evaluate import category_mapping

from test_train_helpers import shapes_dataset, tiny_config, tiny_model


def _fake_results(gt: dict, seed: int = 0) -> list[dict]:
    """Jittered ground-truth boxes (some wrong class, some missed) plus false positives."""
    rng = np.random.default_rng(seed)
    cats = [c["id"] for c in gt["categories"]]
    sizes = {im["id"]: (im["width"], im["height"]) for im in gt["images"]}
    results = []
    for ann in gt["annotations"]:
        if rng.random() < 0.15:
            continue
        x, y, w, h = ann["bbox"]
        jitter = rng.normal(0, 0.08, 4) * [w, h, w, h]
        cat = ann["category_id"] if rng.random() > 0.1 else int(rng.choice(cats))
        results.append({"image_id": ann["image_id"], "category_id": cat,
                        "bbox": [round(float(v), 2) for v in np.maximum([x, y, w, h] + jitter, 0.5)],
                        "score": round(float(rng.uniform(0.3, 1.0)), 4)})
    for image_id, (W, H) in list(sizes.items())[::3]:
        w, h = rng.uniform(5, W / 3), rng.uniform(5, H / 3)
        results.append({"image_id": image_id, "category_id": int(rng.choice(cats)),
                        "bbox": [round(float(rng.uniform(0, W - w)), 2), round(float(rng.uniform(0, H - h)), 2),
                                 round(float(w), 2), round(float(h), 2)],
                        "score": round(float(rng.uniform(0.0, 0.6)), 4)})
    return results


def _pycocotools(gt_path, pred_path, cat_ids=None):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        dt = gt.loadRes(str(pred_path))
        e = COCOeval(gt, dt, "bbox")
        if cat_ids is not None:
            e.params.catIds = cat_ids
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e.stats


@pytest.fixture(scope="module")
def facemask_files(shared_data, tmp_path_factory):
    gt_path = shared_data / "facemask_coco/annotations/custom_val.json"
    gt = json.loads(gt_path.read_text())
    pred = tmp_path_factory.mktemp("pred") / "results.json"
    pred.write_text(json.dumps(_fake_results(gt)))
    return gt_path, pred, gt


def test_eval_command_matches_pycocotools_called_directly(facemask_files, tmp_path, capsys):
    gt_path, pred, gt = facemask_files
    out = tmp_path / "metrics.json"
    assert main(["eval", "--gt", str(gt_path), "--pred", str(pred), "--out", str(out)]) == 0
    ours = json.loads(out.read_text())
    stats = _pycocotools(gt_path, pred)
    assert list(ours)[:12] == list(METRICS)
    for name, value in zip(METRICS, stats):
        assert ours[name] == (None if value < 0 else value), name
    assert 0.3 < ours["AP50"] < 1  # the fake results are neither hopeless nor perfect
    for cat in gt["categories"]:
        alone = _pycocotools(gt_path, pred, [cat["id"]])[0]
        assert ours["per_class"][cat["name"]] == pytest.approx(alone, abs=1e-12)
    table = capsys.readouterr().err
    assert "AP50" in table and "with_mask" in table


def test_metrics_without_ground_truth_for_a_size_are_null(facemask_files):
    _, _, gt = facemask_files
    small_only = dict(gt, annotations=[a for a in gt["annotations"] if a["area"] < 32 ** 2])
    metrics = coco_metrics(small_only, _fake_results(small_only))
    assert metrics["APl"] is None and metrics["APs"] is not None
    assert "   -" in format_table(metrics)
    empty = coco_metrics(gt, [])
    assert empty["AP"] == 0.0 and set(empty["per_class"].values()) == {0.0}


@pytest.mark.parametrize("content, expected", [
    ("{}", "must be a JSON list"),
    ("[{\"image_id\": 1}", "not valid JSON"),
    (json.dumps([{"image_id": 0, "category_id": 1, "bbox": [1, 2, 3]}]), "missing score"),
    (json.dumps([{"image_id": 99999, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}]),
     "image_id 99999 is not in the ground truth"),
    (json.dumps([{"image_id": 0, "category_id": 7, "bbox": [1, 2, 3, 4], "score": 1}]),
     "category_id 7 is not in the ground truth"),
    (json.dumps([{"image_id": 0, "category_id": 1, "bbox": [1, 2, -3, 4], "score": 1}] * 5),
     "5 bad results"),
])
def test_bad_result_files_are_refused_naming_the_file(facemask_files, tmp_path, capsys, content, expected):
    gt_path, _, _ = facemask_files
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["eval", "--gt", str(gt_path), "--pred", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"detr-workbench eval: error: {bad}: ") and expected in err and "\n" not in err


def test_eval_of_a_checkpoint_equals_scoring_its_results_file(tmp_path, capsys):
    gt_path = shapes_dataset(tmp_path / "val", 4, seed=9)
    model = tiny_model(seed=2)
    ckpt = tmp_path / "m.pth"
    save_checkpoint(ckpt, model, tiny_config(), ["circle", "square", "triangle", "star", "cross"],
                    metadata={"category_ids": [1, 2, 3, 4, 5]})
    metrics_a, metrics_b, results = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "r.json"
    assert main(["eval", "--checkpoint", str(ckpt), "--json", str(gt_path), "--device", "cpu",
                 "--workers", "0", "--out", str(metrics_a), "--results", str(results)]) == 0
    detections = json.loads(results.read_text())
    assert len(detections) == 4 * 20  # every query of every image
    assert {d["category_id"] for d in detections} <= {1, 2, 3, 4, 5}
    assert main(["eval", "--gt", str(gt_path), "--pred", str(results), "--out", str(metrics_b)]) == 0
    assert json.loads(metrics_a.read_text()) == json.loads(metrics_b.read_text())
    assert "classes mapped by the checkpoint's category ids" in capsys.readouterr().err


def test_class_mapping_of_checkpoints_to_ground_truth():
    gt = {"categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]}
    official = ["N/A", "person", "bicycle", "car"]
    assert category_mapping(official, None, gt, "gt.json")[0] == {1: 1, 3: 3}
    assert category_mapping(["a", "b"], [10, 20], gt, "gt.json")[0] == {0: 10, 1: 20}
    renamed = {"categories": [{"id": 0, "name": "x"}, {"id": 1, "name": "y"}]}
    assert category_mapping(["p", "q", "r"], None, renamed, "gt.json")[1].startswith("class index")
    with pytest.raises(DatasetError, match="gt.json: the model's classes do not match"):
        category_mapping(["p"], None, {"categories": [{"id": 5, "name": "zebra"}]}, "gt.json")


def test_eval_needs_one_of_the_two_forms(capsys):
    assert main(["eval", "--pred", "x.json"]) == 1
    assert "--pred needs --gt" in capsys.readouterr().err
    assert main(["eval"]) == 1
    assert "give either --checkpoint" in capsys.readouterr().err
