"""The review queue in the window: Model > Build Review Queue scores the saved labels with the
model in use (a real child process); a removed box comes back as a "missing" finding; A takes the
model's box as one undoable edit; D dismisses a finding for good; unsaved edits are refused first."""
from __future__ import annotations

import pytest

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from model_helpers import wait_model
from sample_helpers import DEMO, sample_subset
from workbench_helpers import open_and_wait



def _samples_missing_a_box(folder: Path, n: int = 5) -> tuple[Path, dict]:
    """n bundled samples whose first box was removed from the file."""
    path, gt = sample_subset(folder, n)
    removed = gt["annotations"].pop(0)
    path.write_text(json.dumps(gt))
    return path, removed


@pytest.mark.slow
def test_review_queue_finds_a_removed_box_and_takes_the_fix(qtbot, window, tmp_path):
    path, removed = _samples_missing_a_box(tmp_path / "data")
    open_and_wait(qtbot, window, path)
    window.state.model.load(str(DEMO))
    wait_model(qtbot, window, DEMO, timeout=60_000)
    ui = window.review_ui
    with qtbot.waitSignal(window.actions["review_queue"].triggered, timeout=5_000):
        QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert ui.job is not None and ui.dock.isVisible()
    with qtbot.waitSignal(ui.job.finished, timeout=240_000):
        pass
    tree = ui.panel.tree
    findings = [(tree.topLevelItem(i), tree.topLevelItem(i).child(j)) for i in range(tree.topLevelItemCount())
                for j in range(tree.topLevelItem(i).childCount())]
    missing = [(image, item) for image, item in findings
               if item.data(0, Qt.ItemDataRole.UserRole)[1].kind == "missing"
               and item.data(0, Qt.ItemDataRole.UserRole)[0].image_id == removed["image_id"]]
    assert missing, [item.text(0) for _, item in findings]
    image_item, item = missing[0]
    tree.setCurrentItem(item)
    review, finding = item.data(0, Qt.ItemDataRole.UserRole)
    row = window.state.images.row_of_image(review.image_id)
    before = len(window.state.annotations(row))
    tree.setFocus()
    QTest.keyClick(tree, Qt.Key.Key_A)  # take the model's fix: its box becomes a label
    after = window.state.annotations(row)
    assert len(after) == before + 1
    x, y, w, h = after[-1]["bbox"]
    assert abs(x - finding.model_box[0]) < 1 and abs(x + w - finding.model_box[2]) < 1
    window.state.undo_stack.undo()
    assert len(window.state.annotations(row)) == before

    # D dismisses the finding now selected, for this model, in a file beside the document.
    current = tree.currentItem()
    if current is not None and current.parent() is not None:
        QTest.keyClick(tree, Qt.Key.Key_D)
        assert json.loads(path.with_name(path.name + ".dismissed.json").read_text())["dismissed"]


def test_review_queue_asks_to_save_unsaved_edits_first(qtbot, window, tmp_path):
    path, _ = _samples_missing_a_box(tmp_path / "data", n=2)
    open_and_wait(qtbot, window, path)
    window.state.model.load(str(DEMO))
    wait_model(qtbot, window, DEMO, timeout=60_000)
    window.state.edits.add_category("new class")  # an unsaved edit
    messages = []
    window.state.message.connect(messages.append)
    assert not window.review_ui.start()
    assert any("Save first" in m for m in messages)
