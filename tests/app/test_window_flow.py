"""The issue's main loop, driven through the real window offscreen: open a folder, draw a box with
mouse events, pick and change its class, undo/redo, save, reload and compare the JSON."""
from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench_helpers import (draw_box, make_images, make_window, open_and_wait, pick_class,
                               save_and_wait, wait_image, close_window)


def test_draw_classify_undo_save_reload(qtbot, window, dialogs, tmp_path, settings):
    folder = tmp_path / "photos"
    make_images(folder, 3, size=(200, 150))
    open_and_wait(qtbot, window, folder)
    state = window.state
    assert state.row_count() == 3 and state.current_row == 0
    assert state.status(0) == "unlabelled"

    draw_box(qtbot, window, 20, 30, 120, 110)
    pick_class(qtbot, window, "cat")  # a new class, created from the picker
    anns = state.current_annotations()
    assert len(anns) == 1
    x, y, w, h = anns[0]["bbox"]
    assert abs(x - 20) <= 1.5 and abs(y - 30) <= 1.5 and abs(w - 100) <= 2 and abs(h - 80) <= 2
    assert state.category_name(anns[0]["category_id"]) == "cat"
    assert state.selection == [anns[0]["id"]]
    assert state.status(0) == "edited"

    # Change class with the searchable list: a second class, then pick it with C.
    draw_box(qtbot, window, 130, 10, 190, 60)
    pick_class(qtbot, window, "dog")
    dog_box = state.selection[0]
    state.set_selection([anns[0]["id"]])
    QTest.keyClick(window, Qt.Key.Key_C)
    qtbot.waitUntil(window.canvas.picker.isVisible)
    pick_class(qtbot, window, "dog")
    assert state.category_name(state.document.annotation(anns[0]["id"])["category_id"]) == "dog"
    # ... and back with the number key 1 (= the first class, cat).
    QTest.keyClick(window, Qt.Key.Key_1)
    assert state.category_name(state.document.annotation(anns[0]["id"])["category_id"]) == "cat"

    # Undo the number key, the picker change, the dog box; redo one.
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert state.category_name(state.document.annotation(anns[0]["id"])["category_id"]) == "dog"
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [a["id"] for a in state.current_annotations()] == [anns[0]["id"]]
    QTest.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert dog_box in [a["id"] for a in state.current_annotations()]
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert state.category_name(state.document.annotation(anns[0]["id"])["category_id"]) == "dog"
    assert state.is_dirty() and window.isWindowModified()

    # Save: a folder has no JSON yet, so Save asks where (default <folder>/annotations.json).
    target = folder / "annotations.json"
    dialogs.save_path = str(target)
    save_and_wait(qtbot, window)
    assert not state.is_dirty()
    saved = json.loads(target.read_text())
    assert [im["file_name"] for im in saved["images"]] == ["img1.png"]  # relative to the folder
    assert {c["name"] for c in saved["categories"]} == {"cat", "dog"}
    assert saved["images"][0]["workbench_status"] == "edited"
    assert len(saved["annotations"]) == 2

    # Reopen the folder in a new window: the document comes back, same boxes, same JSON.
    close_window(window, dialogs)
    other = make_window(qtbot, settings, tmp_path)
    open_and_wait(qtbot, other, folder)
    assert other.state.document.path == target
    assert other.state.row_count() == 3
    assert len(other.state.annotations(0)) == 2 and other.state.status(0) == "edited"
    save_and_wait(qtbot, other)  # no edits: the same content again
    assert json.loads(target.read_text()) == saved
    assert (folder / "annotations.json.bak").is_file()
    close_window(other, dialogs)


def test_next_previous_and_space_marks_reviewed(qtbot, window, tmp_path):
    folder = tmp_path / "photos"
    make_images(folder, 4)
    open_and_wait(qtbot, window, folder)
    state = window.state
    window.canvas.setFocus()
    QTest.keyClick(window, Qt.Key.Key_D)
    wait_image(qtbot, window)
    assert state.current_row == 1
    QTest.keyClick(window.canvas, Qt.Key.Key_Space)  # a short tap on the canvas
    assert state.status(1) == "reviewed"
    QTest.keyClick(window, Qt.Key.Key_A)
    assert state.current_row == 0
    window.image_list.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_Space)  # the window shortcut, away from the canvas
    assert state.status(0) == "reviewed"
    QTest.keyClick(window, Qt.Key.Key_N)  # next unreviewed
    assert state.current_row == 2
    QTest.keyClick(window, Qt.Key.Key_A)
    QTest.keyClick(window, Qt.Key.Key_A)
    QTest.keyClick(window, Qt.Key.Key_A)  # already at the first image: stays
    assert state.current_row == 0
    # Undo works across images: undoing the review of image 1 brings image 1 back.
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert state.current_row == 1 and state.status(1) == "unlabelled"
    assert state.document.images == [] and not state.is_dirty()  # the records went with the undo
    QTest.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert state.status(1) == "reviewed" and state.document.image(state.entry(1).image_id)
