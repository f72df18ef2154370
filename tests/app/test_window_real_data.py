"""Real COCO files through the window: coco_tiny and facemask_coco load, show their boxes, and
save back unchanged in meaning (also after an edit and its undo); a screenshot with boxes is
taken and checked to be non-blank.

The JSON files are copied to tmp_path first (the images stay in the shared folder, given as the
image root), so nothing is ever written next to the shared data.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench_helpers import open_and_wait, save_and_wait, wait_image

CASES = {
    "coco_tiny": ("coco_tiny/annotations/instances_val2017.json", "coco_tiny/val2017"),
    "facemask": ("facemask_coco/annotations/custom_train.json", "facemask_coco/train2017"),
}


def grab_array(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return data.reshape(height, image.bytesPerLine())[:, : width * 3].reshape(height, width, 3).copy()


def save_screenshot(widget, path: Path) -> None:
    widget.grab().save(str(path))
    extra = os.environ.get("WORKBENCH_SCREENSHOTS")  # keep a copy to look at, if asked
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)


@pytest.mark.parametrize("case", sorted(CASES))
def test_load_show_and_save_back_unchanged(qtbot, window, dialogs, shared_data, tmp_path, case):
    json_rel, root_rel = CASES[case]
    original = shared_data / json_rel
    copy = tmp_path / original.name
    shutil.copy(original, copy)
    open_and_wait(qtbot, window, copy, image_root=str(shared_data / root_rel))
    state = window.state
    source = json.loads(original.read_text())
    assert state.row_count() == len(source["images"])
    assert all(e.image_id is not None for e in state.entries)
    # The first image with boxes: every box is drawn, in its class colour.
    row = next(r for r in range(state.row_count()) if state.annotations(r))
    state.go_to(row)
    wait_image(qtbot, window)
    items = window.canvas.box_items()
    assert set(items) == {a["id"] for a in state.annotations(row)}
    some = next(iter(items.values()))
    ann = state.document.annotation(some.ann_id)
    assert some.color() == state.category_color(ann["category_id"])
    assert some.label_text() == state.category_name(ann["category_id"])

    shot = tmp_path / f"window-{case}.png"
    save_screenshot(window, shot)
    pixels = grab_array(window.canvas.viewport())
    assert pixels.std() > 20  # not blank: a photo is on screen
    colour = some.color()
    target = np.array([colour.red(), colour.green(), colour.blue()])
    assert (np.abs(pixels.astype(int) - target).sum(axis=2) < 30).sum() > 20  # box outlines drawn

    # Save As without edits: the same COCO object.
    out = tmp_path / "out.json"
    dialogs.save_path = str(out)
    with qtbot.waitSignal(window.session.saved, timeout=20_000):
        window.flows.save_as()
    assert json.loads(out.read_text()) == source

    # Edit (move a box, change a class, add a box on another image), undo everything: same again.
    window.canvas.setFocus()
    before = list(ann["bbox"])
    state.set_selection([some.ann_id])
    QTest.keyClick(window.canvas, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    QTest.keyClick(window, Qt.Key.Key_2)
    QTest.keyClick(window, Qt.Key.Key_D)
    wait_image(qtbot, window)
    state.add_box([1, 1, 10, 10], state.categories()[0]["id"])
    assert state.document.annotation(some.ann_id)["bbox"][0] == before[0] + 10
    assert state.undo_stack.count() == 3  # nudge, class, new box
    while state.undo_stack.canUndo():
        state.undo_stack.undo()
    save_and_wait(qtbot, window, timeout=20_000)
    assert json.loads(out.read_text()) == source
