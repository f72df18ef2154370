"""The pieces of fine-tuning that need no window: the JSON-lines parser (partial lines, garbage),
the curves (smoothing, resume), the command lines (incl. torchrun), the data plan and snapshot,
and reading a run folder. Events are made with detr_core.train.events, the real contract."""
from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest

from app.document.entries import STATUS_KEY
from app.training.command import DataFiles, TrainOptions, resume_command, train_command
from app.training.curves import RunCurves
from app.training.jsonl import JsonLinesParser
from app.training.runs import read_run
from app.training.snapshot import DataChoice, plan_data, write_snapshot
from detr_core.train.events import EpochDone, EvalDone, RunEnded, RunFailed, RunStarted, StepDone
from workbench_helpers import make_images


def started(start_step=0, epochs=2, steps=3, resumed=False) -> RunStarted:
    return RunStarted(run_dir="/r", resumed=resumed, epochs=epochs, steps_per_epoch=steps, total_steps=epochs * steps,
                      start_epoch=start_step // steps + 1, start_step=start_step, batch_size=2, world_size=1,
                      device="cpu", train_images=6, val_images=2, class_names=["a"], model_config={},
                      train_config={}, base="random")


def step(n, loss=1.0, steps=3) -> StepDone:
    return StepDone(epoch=(n - 1) // steps + 1, epoch_step=(n - 1) % steps + 1, steps_per_epoch=steps, step=n,
                    total_steps=6, loss=loss, losses={"loss_ce": loss / 2, "loss_bbox": 0.1, "loss_giou": 0.2},
                    lr=1e-4, lr_backbone=1e-5, grad_norm=1.0, images_per_s=3.0, elapsed_s=n, eta_s=6 - n)


def metrics(ap) -> dict:
    return {"AP": ap, "AP50": ap * 2, "AP75": None, "per_class": {"a": ap}}


# -- parser -------------------------------------------------------------------------------------------
def test_parser_joins_lines_cut_anywhere_even_inside_a_character():
    events = [started(), step(1, loss=2.5), EvalDone(epoch=1, step=3, metrics=metrics(0.25), images=2, duration_s=1.0)]
    stream = "".join(e.to_json() + "\n" for e in events).replace('"a"', '"ä✓"').encode()
    for cut_every in (1, 3, 7, 64, len(stream)):
        parser = JsonLinesParser()
        got = []
        for i in range(0, len(stream), cut_every):
            got += parser.feed(stream[i:i + cut_every])
        assert [type(e) for e in got] == [RunStarted, StepDone, EvalDone], cut_every
        assert got[0].class_names == ["ä✓"] and got[1].loss == 2.5 and got[2].metrics["AP"] == 0.25
        assert parser.finish() == [] and parser.bad_lines == 0


def test_parser_turns_garbage_into_log_lines_and_keeps_going():
    parser = JsonLinesParser()
    good = step(1).to_json()
    lines = ["Warning: some library printed this", '{"type": "step", "schema": 1, "loss": ', "[1, 2, 3]",
             json.dumps({"type": "step", "schema": 1, "time": 1.0, "epoch": 1}),  # fields missing
             json.dumps({"type": "future_thing", "schema": 1, "time": 1.0}),  # a later event type: skipped
             json.dumps({**json.loads(good), "schema": 2}), json.dumps({"no_type": 1}), "", good]
    out = parser.feed(("\n".join(lines) + "\n").encode())
    events = [o for o in out if not isinstance(o, str)]
    text = [o for o in out if isinstance(o, str)]
    assert [type(e) for e in events] == [StepDone]
    assert text[0] == "Warning: some library printed this" and text[2] == "[1, 2, 3]"
    assert "not JSON" in text[1] and "without 'epoch_step'" in text[3] and "schema 2" in text[4]
    assert "no event type" in text[5] and len(text) == 6 and parser.bad_lines == 4


def test_parser_extra_fields_are_ignored_and_a_cut_last_line_is_read_at_the_end():
    parser = JsonLinesParser()
    line = json.dumps({**json.loads(step(4).to_json()), "new_optional_field": [1, 2]})
    assert parser.feed(line[:30].encode()) == []
    assert parser.feed(line[30:].encode()) == []  # no newline yet
    (event,) = parser.finish()
    assert isinstance(event, StepDone) and event.step == 4
    assert parser.feed(b'{"type": "end", "schema": 1, "sta') == []
    assert "not JSON" in parser.finish()[0]  # a crash cut the last line


def test_parser_drops_an_endless_line_without_growing():
    parser = JsonLinesParser(max_line_bytes=1000)
    out = parser.feed(b"x" * 1500)
    assert out and "longer than 1000" in out[0]
    assert parser.feed(b"y" * 5000) == []  # still the same line: skipped
    assert [type(e) for e in parser.feed(b"zz\n" + step(1).to_json().encode() + b"\n")] == [StepDone]


# -- curves -------------------------------------------------------------------------------------------
def test_curves_smooth_debiased_and_show_non_finite_as_gaps():
    curves = RunCurves(smoothing=0.9)
    curves.add(started())
    for n, loss in enumerate([4.0, 2.0, None, 2.0], start=1):
        curves.add(step(n, loss=loss) if loss is not None else
                   StepDone(**{**step(n).__dict__, "loss": None, "losses": {}}))
    x, y = curves.arrays("loss")
    assert list(x) == [1, 2, 3, 4] and math.isnan(y[2])
    _, smooth = curves.smoothed("loss")
    assert smooth[0] == pytest.approx(4.0)  # debiased: the first point is itself
    assert smooth[1] == pytest.approx((0.9 * 0.1 * 4 + 0.1 * 2) / (1 - 0.81))
    assert math.isnan(smooth[2]) and 2.0 < smooth[3] < smooth[1]
    curves.set_smoothing(0.0)
    assert list(curves.smoothed("loss")[1][[0, 1, 3]]) == [4.0, 2.0, 2.0]


def test_curves_of_a_resumed_run_drop_the_steps_done_again():
    curves = RunCurves()
    curves.add(started())
    for n in range(1, 6):
        curves.add(step(n, loss=10 - n))
    curves.add(EpochDone(epoch=1, epochs=2, step=3, total_steps=6, loss=8.0, losses={"loss_ce": 4.0},
                         duration_s=1, images_per_s=1, eta_s=1, metrics=None))
    curves.add(EvalDone(epoch=1, step=3, metrics=metrics(0.1), images=2, duration_s=1, loss=9.5,
                        losses={"loss_ce": 5.0}))
    curves.add(EvalDone(epoch=2, step=6, metrics=metrics(0.2), images=2, duration_s=1))  # an older stream: no loss
    assert list(curves.arrays("val_loss")[0]) == [1] and list(curves.arrays("AP")[0]) == [1, 2]
    version = curves.version
    curves.add(started(start_step=3, resumed=True))  # failed at step 5, resumed from the epoch-1 checkpoint
    assert curves.version > version
    assert list(curves.arrays("loss")[0]) == [1, 2, 3] and len(curves.smoothed("loss")[0]) == 3
    assert list(curves.arrays("train_loss")[1]) == [8.0] and list(curves.arrays("AP")[1]) == [0.1]
    assert list(curves.arrays("val_loss")[1]) == [9.5]
    curves.add(step(4, loss=1.0))
    assert list(curves.arrays("loss")[0]) == [1, 2, 3, 4] and curves.last("loss") == 1.0


def test_curves_are_bounded():
    curves = RunCurves(max_points=100)
    for n in range(1, 1001):
        curves.add(step(n))
    x, _ = curves.arrays("loss")
    assert len(x) == 100 and x[0] == 901 and len(curves.smoothed("loss_giou")[0]) == 100


# -- command lines ------------------------------------------------------------------------------------
def test_train_command_names_every_choice(tmp_path):
    data = DataFiles(tmp_path / "data/train.json", tmp_path / "imgs", tmp_path / "data/val.json", tmp_path / "imgs")
    args = train_command(tmp_path / "run", data, TrainOptions(epochs=3, batch_size=4, lr=2e-4, lr_backbone=0.0,
                                                              resolution="192", device="cpu", config="tiny",
                                                              workers=0, freeze_backbone=True, seed=7))
    assert args[:4] == [sys.executable, "-m", "detr_core", "train"]
    pairs = dict(zip(args[4::1], args[5::1]))
    assert pairs["--train-json"] == str(data.train_json) and pairs["--val-images"] == str(tmp_path / "imgs")
    assert pairs["--config"] == "tiny" and "--checkpoint" not in args and pairs["--lr"] == "0.0002"
    assert pairs["--epochs"] == "3" and pairs["--workers"] == "0" and pairs["--seed"] == "7"
    assert {"--freeze-backbone", "--overwrite", "--jsonl"} <= set(args)
    from detr_core.cli.main import build_parser  # the real train command accepts every option

    parsed = build_parser().parse_args(args[3:])
    assert parsed.lr_backbone == 0.0 and parsed.resolution == "192" and parsed.jsonl and parsed.overwrite


def test_timed_command_leaves_epochs_and_rates_to_the_recipe(tmp_path):
    data = DataFiles(tmp_path / "t.json", tmp_path)
    args = train_command(tmp_path / "run", data, TrainOptions(checkpoint="demo.pth", minutes=10, epochs=99))
    assert args[args.index("--time-budget") + 1] == "10m" and args[args.index("--recipe") + 1] == "auto"
    assert not {"--epochs", "--batch-size", "--lr", "--lr-backbone"} & set(args)
    from detr_core.cli.main import build_parser

    parsed = build_parser().parse_args(args[3:])
    assert parsed.recipe == "auto" and parsed.time_budget
    fixed = train_command(tmp_path / "run", data, TrainOptions(checkpoint="demo.pth"))
    assert fixed[fixed.index("--recipe") + 1] == "reference" and "--time-budget" not in fixed


def test_torchrun_command_runs_one_process_per_gpu(tmp_path):
    data = DataFiles(tmp_path / "t.json", tmp_path)
    args = train_command(tmp_path / "run", data, TrainOptions(checkpoint="detr-r50", gpus=4, device="cpu"))
    assert args[:8] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "4",
                        "-m", "detr_core"]
    assert args[args.index("--device") + 1] == "cuda" and args[args.index("--checkpoint") + 1] == "detr-r50"
    resume = resume_command(tmp_path / "run", gpus=2, epochs=9)
    assert resume[2:6] == ["torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    assert resume[-5:] == ["--device", "cuda", "--epochs", "9", "--jsonl"] and "--resume" in resume


# -- data plan and snapshot ---------------------------------------------------------------------------
def coco(tmp_path, statuses, boxes_per_image=1, categories=("cat", "dog")):
    paths = make_images(tmp_path / "imgs", len(statuses), size=(40, 30))
    data = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": n} for i, n in enumerate(categories)]}
    for i, (path, status) in enumerate(zip(paths, statuses), start=1):
        data["images"].append({"id": i, "file_name": path.name, "width": 40, "height": 30,
                               **({STATUS_KEY: status} if status else {})})
        for k in range(boxes_per_image if status != "empty" else 0):
            data["annotations"].append({"id": len(data["annotations"]) + 1, "image_id": i, "category_id": 1 + (i + k) % 2,
                                        "bbox": [1, 1, 10, 10], "area": 100, "iscrowd": 0})
    for im in data["images"]:
        if im.get(STATUS_KEY) == "empty":
            im[STATUS_KEY] = "reviewed"  # checked: nothing there
    return data, tmp_path / "imgs"


def test_plan_counts_and_refuses_with_reasons(tmp_path):
    data, root = coco(tmp_path, ["reviewed", "reviewed", None, "predicted", "empty", "unlabelled"])
    plan = plan_data(data, root, DataChoice(validation="none"))
    assert plan.usable and len(plan.train_ids) == 5 and plan.train_boxes == 4  # "unlabelled" left out
    assert [(c.name, c.train_boxes) for c in plan.classes] == [("cat", 2), ("dog", 2)]
    assert any("1 marked unlabelled" in w for w in plan.warnings)
    assert any("1 reviewed images without boxes" in w for w in plan.warnings)
    reviewed = plan_data(data, root, DataChoice(reviewed_only=True, validation="split", val_fraction=0.3, seed=1))
    assert sorted(reviewed.train_ids + reviewed.val_ids) == [1, 2, 5] and reviewed.val_ids
    assert reviewed.train_boxes + reviewed.val_boxes == 2
    none_reviewed, _ = coco(tmp_path / "b", [None, None])
    only_reviewed = plan_data(none_reviewed, tmp_path / "b/imgs", DataChoice(reviewed_only=True))
    assert "No reviewed images" in only_reviewed.problems[0]
    one, _ = coco(tmp_path / "c", [None])
    assert "too few to split" in plan_data(one, tmp_path / "c/imgs", DataChoice()).problems[0]
    assert plan_data(one, tmp_path / "c/imgs", DataChoice(validation="none")).usable
    unlabelled, _ = coco(tmp_path / "d", ["unlabelled", "unlabelled"])
    assert "No labelled images" in plan_data(unlabelled, tmp_path / "d/imgs", DataChoice()).problems[0]
    (root / "img2.png").unlink()
    assert "1 of 5 image files are missing" in plan_data(data, root, DataChoice(validation="none")).problems[0]
    no_classes = {**data, "categories": [], "annotations": []}
    assert "no classes" in plan_data(no_classes, root, DataChoice()).problems[0]


def test_a_class_without_boxes_only_warns(tmp_path):
    data, root = coco(tmp_path, [None, None, None], categories=("cat", "dog", "bird"))
    plan = plan_data(data, root, DataChoice(validation="none"))
    assert plan.usable and any("No training boxes for bird" in w for w in plan.warnings)


def test_snapshot_files_keep_the_split_and_leave_the_data_alone(tmp_path):
    data, root = coco(tmp_path, [None] * 6, boxes_per_image=2)
    before = json.dumps(data, sort_keys=True)
    files, plan = write_snapshot(data, root, DataChoice(val_fraction=0.34, seed=3), tmp_path / "run", source="x.json")
    assert json.dumps(data, sort_keys=True) == before
    train, val = json.loads(files.train_json.read_text()), json.loads(files.val_json.read_text())
    assert sorted(im["id"] for im in train["images"] + val["images"]) == list(range(1, 7)) and val["images"]
    assert {a["image_id"] for a in val["annotations"]} == {im["id"] for im in val["images"]}
    assert train["categories"] == data["categories"] and files.train_images == root == files.val_images
    note = json.loads((tmp_path / "run/data/snapshot.json").read_text())
    assert note["source"] == "x.json" and note["train_images"] + note["val_images"] == 6
    same, _ = write_snapshot(data, root, DataChoice(val_fraction=0.34, seed=3), tmp_path / "run2")
    assert same.val_json.read_text() == files.val_json.read_text()  # same seed, same split
    with pytest.raises(Exception, match="No labelled images"):
        write_snapshot({**data, "annotations": []}, root, DataChoice(), tmp_path / "run3")


def test_separate_validation_file_is_copied_into_the_run(tmp_path):
    data, root = coco(tmp_path / "a", [None] * 3)
    val, val_root = coco(tmp_path / "b", [None] * 2)
    (tmp_path / "b/val.json").write_text(json.dumps(val))
    choice = DataChoice(validation="file", val_json=tmp_path / "b/val.json", val_images=val_root)
    files, plan = write_snapshot(data, root, choice, tmp_path / "run")
    assert plan.val_images == 2 and plan.val_boxes == 2 and len(plan.train_ids) == 3
    assert files.val_images == val_root and json.loads(files.val_json.read_text())["images"] == val["images"]
    missing = plan_data(data, root, DataChoice(validation="file", val_json=tmp_path / "nope.json"))
    assert "Validation file" in missing.problems[0]


# -- run folders --------------------------------------------------------------------------------------
def test_read_run_gives_status_metrics_and_curves(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    events = [started(), step(1), step(2), step(3),
              EvalDone(epoch=1, step=3, metrics=metrics(0.2), images=2, duration_s=1),
              EpochDone(epoch=1, epochs=2, step=3, total_steps=6, loss=0.9, losses={}, duration_s=1,
                        images_per_s=1, eta_s=1, metrics=metrics(0.2)),
              RunEnded("stopped", 1, 3, 6, 5.0, metrics(0.2), str(run / "checkpoint.pth"), None)]
    text = "".join(e.to_json() + "\n" for e in events)
    (run / "metrics.jsonl").write_text(text + "garbage\n")
    (run / "checkpoint.pth").write_bytes(b"weights")
    record = read_run(run)
    assert (record.status, record.step, record.epochs, record.final_loss) == ("stopped", 3, 2, 0.9)
    assert record.metrics["AP"] == 0.2 and record.resumable and record.model_path == run / "checkpoint.pth"
    assert record.curves.count("loss") == 3 and (record.device, record.world_size) == ("cpu", 1)
    listed = read_run(run, steps=False)  # for the list: the step lines are skipped
    assert (listed.status, listed.step, listed.epoch, listed.metrics) == ("stopped", 3, 1, record.metrics)
    assert not listed.complete and listed.curves.count("loss") == 0 and record.complete
    (run / "metrics.jsonl").write_text(text + started(3, resumed=True).to_json() + "\n"
                                       + RunFailed("non_finite_loss", "boom", 2, 4, None).to_json() + "\n")
    failed = read_run(run)
    assert failed.status == "failed" and failed.message == "boom" and failed.step == 3
    (run / "metrics.jsonl").write_text(text + started(3, resumed=True).to_json() + "\n")
    assert read_run(run).status == "incomplete"  # killed: no end line
    assert read_run(tmp_path / "nothing").status == "empty"
    assert np.isfinite(record.curves.arrays("loss")[1]).all()


def test_train_commands_are_on_the_shortcut_sheet():
    from app.shortcut_sheet import shortcut_rows

    rows = {(section, keys) for section, keys, _what in shortcut_rows()}
    assert {("Train", "Ctrl+T"), ("Train", "Ctrl+Shift+T"), ("Train", "Ctrl+Shift+R"), ("Train", "Ctrl+U")} <= rows
    every_key = [k for _s, keys, _w in shortcut_rows() for k in keys.split(" / ")]
    assert len(every_key) == len(set(every_key)), "a key is bound twice"
