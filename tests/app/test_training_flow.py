"""Fine-tuning from the window, with the real train command in a child process: start a job on
the tiny config, watch the curves fill, keep editing while it runs (the job's snapshot does not
change), stop it, resume it, let it finish, read its metrics, and use the model it made."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from model_helpers import wait_model
from training_helpers import (JOB_TIMEOUT, events_of, fill_fast, job_question, make_dataset, open_dialog,  # noqa: F401
                              start,
                              train_window, wait_finished)
from workbench_helpers import open_and_wait


def box_keys(annotations) -> list[tuple]:
    return sorted((a["id"], a["image_id"], a["category_id"], tuple(a["bbox"])) for a in annotations)


def snapshot_of(run_dir) -> tuple[list, list]:
    parts = [json.loads((run_dir / "data" / name).read_text()) for name in ("train.json", "val.json")]
    images = sorted((im["id"], im["file_name"]) for p in parts for im in p["images"])
    return images, box_keys([a for p in parts for a in p["annotations"]])


@pytest.mark.slow
def test_fine_tune_watch_stop_resume_finish_and_use_the_model(qtbot, train_window, tmp_path):
    window = train_window
    open_and_wait(qtbot, window, make_dataset(tmp_path / "shapes"))
    state, training, panel = window.state, window.state.training, window.training_ui.panel
    dialog = open_dialog(qtbot, window)
    fill_fast(dialog, tmp_path / "run", epochs=2)
    plan = dialog.plan
    assert plan.usable and len(plan.train_ids) + len(plan.val_ids) == 8 and plan.val_ids
    assert dialog.classes.rowCount() == 5 and "Training: " in dialog.summary.text()
    at_start = state.document.to_json()
    start(qtbot, dialog, training)
    run = tmp_path / "run"

    # The window keeps editing while the job runs; the job's snapshot is what was there at start.
    first = state.annotations(0)[0]["id"]
    window.activateWindow()  # offscreen Qt does not give it back when the dialog closes
    qtbot.waitUntil(window.isActiveWindow)
    state.set_selection([first])
    QTest.keyClick(window, Qt.Key.Key_Delete)
    assert first not in {a["id"] for a in state.annotations(0)}
    images, boxes = snapshot_of(run)
    assert images == sorted((im["id"], im["file_name"]) for im in at_start["images"])
    assert boxes == box_keys(at_start["annotations"])
    assert any(b[0] == first for b in boxes)

    # Live curves: the plot items receive the step events' points.
    loss = panel.plots.item("loss")
    qtbot.waitUntil(lambda: len(loss.getData()[0] if loss.getData()[0] is not None else []) >= 1, timeout=JOB_TIMEOUT)
    x, y = loss.getData()
    assert x[0] == 1 and np.isfinite(y).all() and y[0] > 0
    assert len(panel.plots.item("loss_giou_smooth").getData()[0]) >= 1
    assert panel.progress.maximum() == 6 and "ETA" in panel.progress.format()

    # Stop (Ctrl+Shift+T): the job finishes its step, writes a checkpoint and ends "stopped".
    with qtbot.waitSignal(training.job_finished, timeout=JOB_TIMEOUT) as blocker:
        QTest.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    stopped = blocker.args[0]
    assert stopped.status == "stopped" and stopped.end.step < 6 and (run / "checkpoint.pth").is_file()
    assert not (run / "model.pth").exists() and "Stopped" in panel.outcome_text()
    assert window.actions["resume_training"].isEnabled()

    # Resume (Ctrl+Shift+R): the same run continues from the checkpoint to the end.
    with qtbot.waitSignal(training.job_started, timeout=10_000):
        QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    done = wait_finished(qtbot, training)
    assert done.status == "completed", done.message + "\n" + "\n".join(done.last_lines)
    assert done.end.step == 6 and done.model == str(run / "model.pth")
    starts = [e for e in events_of(run) if e["type"] == "start"]
    assert [s["resumed"] for s in starts] == [False, True] and starts[1]["start_step"] == stopped.end.step
    panel.plots.redraw()
    assert list(panel.plots.item("loss").getData()[0]) == [1, 2, 3, 4, 5, 6]  # one point per step, none twice
    assert len(panel.plots.item("AP").getData()[0]) == 2 and len(panel.plots.item("train_loss").getData()[0]) == 2
    assert len(panel.plots.item("val_loss").getData()[0]) == 2
    reading = panel.reading_text()  # after each evaluation: class error, weakest classes, the curves in words
    assert "class error" in reading and "weakest classes (AP)" in reading and "training loss" in reading

    # When it ends: its COCO metrics table, and the run in the history with its numbers.
    values = panel.metrics.values()
    assert set(values) >= {"AP", "AP50", "ARl", "AP circle", "AP cross"} and values["AP"] != ""
    assert training.runs[0].run_dir == run and training.runs[0].status == "completed"
    history = panel.history.table
    assert history.item(0, 0).text() == "run" and history.item(0, 1).text() == "completed"
    assert history.item(0, 5).text() == values["AP"]

    # Use this model (Ctrl+U): the detector loads it and detects on the image on screen.
    QTest.keyClick(window, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    wait_model(qtbot, window, run / "model.pth", timeout=60_000)
    model = state.model
    assert model.info.class_names == ("circle", "square", "triangle", "star", "cross")

    def predicted() -> bool:
        stored = model.store.get(state.current_entry().path)
        return stored is not None and stored.model_key == model.info.key

    qtbot.waitUntil(predicted, timeout=60_000)
    assert model.current_detections() is not None and len(model.current_detections().scores) > 0
