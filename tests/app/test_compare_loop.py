"""The loop in one click, end to end with a short real run: fine-tune the demo model for one
epoch in the window, then Ctrl+Shift+L uses the new model, pre-labels the unreviewed images and
compares the model before the run with the new one on the run's validation images."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from training_helpers import (fill_fast, job_question, make_dataset, open_dialog, start,  # noqa: F401
                              train_window, wait_finished)
from workbench_helpers import open_and_wait

DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "demo.pth"


@pytest.mark.slow
def test_one_click_loop_uses_prelabels_and_compares_after_a_real_run(qtbot, train_window, tmp_path):
    window = train_window
    state, training = window.state, window.state.training
    open_and_wait(qtbot, window, make_dataset(tmp_path / "shapes"))
    dialog = open_dialog(qtbot, window)
    fill_fast(dialog, tmp_path / "run", epochs=1, checkpoint=str(DEMO))
    start(qtbot, dialog, training)
    done = wait_finished(qtbot, training)
    assert done.status == "completed", done.message

    ui = window.compare_ui
    refusals = []
    ui.loop.refused.connect(refusals.append)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    starts = []
    ui.loop.started.connect(lambda a, b: starts.append((a, b)))
    with qtbot.waitSignal(ui.controller.finished, timeout=240_000) as compared:
        QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        qtbot.waitUntil(lambda: bool(starts or refusals), timeout=10_000)
        assert not refusals, refusals
    started = type("Started", (), {"args": starts[0]})
    before, after = started.args
    assert Path(before) == DEMO and Path(after) == tmp_path / "run" / "model.pth"
    assert state.model.info.source == after  # the new model is in use
    comparison = compared.args[0]
    val_ids = {im["id"] for im in json.loads((tmp_path / "run" / "data" / "val.json").read_text())["images"]}
    assert set(comparison.broke_per_image) == val_ids  # on the run's validation images
    assert ui.dock.isVisible() and "AP50" in ui.panel.summary.text()
    qtbot.waitUntil(lambda: not state.model.batch_runner.running, timeout=240_000)
    stored = [state.model.store.get(state.entry(r).path) for r in range(state.row_count())]
    assert all(s is not None and s.model_key == state.model.info.key for s in stored)  # all pre-labelled


def test_the_loop_says_why_it_cannot_run_before_a_run(qtbot, window):
    with qtbot.waitSignal(window.compare_ui.loop.refused, timeout=5_000) as refused:
        window.actions["run_loop"].trigger()
    assert "fine-tune first" in refused.args[0]
