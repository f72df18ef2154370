"""Preflight (train/preflight.py, preflight_overfit.py, `detr-workbench preflight`): each data
problem is found and named, a clean set passes, the one-batch overfit check passes on learnable
data and fails loudly when nothing is learnt."""
from __future__ import annotations

import json
import shutil

import pytest

from detr_core.cli.main import main as cli
from detr_core.data import load_detection_dataset
from detr_core.data.transforms import EvalTransform, resolution_preset
from detr_core.train.preflight import check_data
from detr_core.train.preflight_overfit import OverfitResult, overfit_findings, run_overfit

from test_train_helpers import TEST_RESOLUTION, shapes_dataset, tiny_model


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pre")
    return shapes_dataset(folder / "train", 6), shapes_dataset(folder / "val", 2, seed=9)


def _load(path, **kw):
    return load_detection_dataset(path, train=True, transform=EvalTransform(128, 160), **kw)


def _checks(findings):
    return {f.check: f for f in findings}


def _edited(src, dst_dir, edit):
    shutil.copytree(src.parent, dst_dir)
    data = json.loads(src.read_text())
    edit(data)
    path = dst_dir / "annotations.json"
    path.write_text(json.dumps(data))
    return path


def test_a_clean_set_has_no_problems(shapes):
    train, _ = _load(shapes[0])
    val, _ = _load(shapes[1])
    found = check_data(train, val, num_queries=20, resolution=resolution_preset("256"))
    assert not [f for f in found if f.severity == "error"], [f.line() for f in found]
    assert "few_boxes" in _checks(found)  # 6 images hold fewer than 10 boxes of some shapes


def test_every_data_problem_is_found_and_named(shapes, tmp_path):
    def edit(data):
        first = data["annotations"][0]
        x, y, w, h = first["bbox"]
        double = dict(first, id=9001, bbox=[x + 0.1, y, w, h])  # a double click
        other_class = first["category_id"] % 5 + 1
        conflict = dict(first, id=9002, bbox=[x, y + 0.1, w, h], category_id=other_class)
        tiny = dict(first, id=9003, bbox=[1, 1, 3, 3])
        data["annotations"] += [double, conflict, tiny]
        copy = dict(data["images"][1], id=999)  # the same file listed twice: an exact duplicate
        data["images"].append(copy)
    path = _edited(shapes[0], tmp_path / "bad", edit)
    train, _ = _load(path)
    val, _ = _load(shapes[0])  # the training images themselves
    found = _checks(check_data(train, val, num_queries=3, resolution=resolution_preset("256")))
    assert found["too_many_boxes"].severity == "error" and "(3)" in found["too_many_boxes"].message
    assert found["double_boxes"].severity == "warning"
    assert found["conflicting_boxes"].severity == "error"
    assert "s_00000.jpg" in found["conflicting_boxes"].message
    assert "smaller than one 32-px" in found["small_boxes"].message
    assert found["duplicate_images"].severity == "warning"
    assert found["train_val_overlap"].severity == "error"


def test_boxes_given_as_corners_are_named_as_a_box_format_mistake(shapes, tmp_path):
    def edit(data):
        for a in data["annotations"]:
            x, y, w, h = a["bbox"]
            a["bbox"] = [x, y, x + w, y + h]  # [x1, y1, x2, y2] written where COCO wants [x, y, w, h]
    path = _edited(shapes[0], tmp_path / "xyxy", edit)
    train, summary = _load(path)
    found = _checks(check_data(train, None, num_queries=20, resolution=resolution_preset("256"),
                               clipped=summary.clipped, path=str(path)))
    assert "[x, y, width, height]" in found["box_format"].message and str(path) in found["box_format"].message


def test_no_boxes_is_an_error(shapes, tmp_path):
    path = _edited(shapes[0], tmp_path / "empty", lambda d: d.update(annotations=[]))
    train, _ = _load(path)
    found = _checks(check_data(train, None, num_queries=20, resolution=resolution_preset("256")))
    assert found["no_boxes"].severity == "error"


@pytest.mark.slow
def test_one_batch_overfit_learns_the_batch(shapes):
    train, _ = _load(shapes[0])
    result = run_overfit(tiny_model(seed=0), train, TEST_RESOLUTION, steps=40, lr=1e-3, from_scratch=True)
    assert result.loss_end < 0.5 * result.loss_start, result
    assert result.bbox_ratio < 0.8 and result.ce_ratio < 0.8, result


def test_one_batch_overfit_fails_loudly_when_nothing_is_learnt(shapes):
    train, _ = _load(shapes[0])
    result = run_overfit(tiny_model(seed=0), train, TEST_RESOLUTION, steps=5, lr=1e-9, from_scratch=True)
    found = overfit_findings(result, 5)
    assert found and all(f.severity == "error" for f in found)
    assert any("box" in f.message for f in found)
    assert result.images == 2 and result.seconds_per_step > 0  # the dialog's time per step
    assert found[0].to_dict()["measured"] == {"seconds_per_step": round(result.seconds_per_step, 4),
                                              "images_per_step": 2}


def test_overfit_findings_say_which_part_failed():
    boxes_stuck = OverfitResult(10.0, 6.0, 0.95, 0.2, 0.1, 0.15)
    assert "box format" in overfit_findings(boxes_stuck)[0].message
    classes_stuck = OverfitResult(10.0, 6.0, 0.2, 0.95, 0.1, 0.8)
    assert "category ids" in overfit_findings(classes_stuck)[0].message
    fine = OverfitResult(10.0, 2.0, 0.2, 0.3, 0.1, 0.8)
    assert overfit_findings(fine)[0].severity == "ok"


def test_preflight_command_exit_code_and_one_line_per_finding(shapes, tmp_path, capsys):
    code = cli(["preflight", "--train-json", str(shapes[0]), "--val-json", str(shapes[0]), "--config", "tiny",
                "--resolution", "256", "--overfit-steps", "0"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 4
    assert any(line.startswith("error: ") and "validation images are also training images" in line for line in out)


def test_preflight_names_an_unreadable_image(shapes, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(shapes[0].parent, folder)
    (folder / "images" / "s_00002.jpg").write_bytes(b"not a jpeg")
    from detr_core.cli.preflight import run_preflight

    found = run_preflight(folder / "annotations.json", None, None, None, None, "tiny", "256", 0)
    assert found[0].severity == "error" and "s_00002.jpg" in found[0].message
