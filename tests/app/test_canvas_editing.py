"""Box editing on the canvas with mouse and keys: move, resize by handles, nudge, delete,
duplicate, hide classes, zoom and pan; each edit one undo step."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from app.canvas.box_item import handle_points
from workbench_helpers import drag, make_images, open_and_wait, view_point, wait_image


@pytest.fixture
def boxed(qtbot, window, tmp_path):
    """A window on a 3-image folder whose first image has a 'cat' box at (40, 40, 60, 50)."""
    make_images(tmp_path / "photos", 3, size=(300, 200))
    open_and_wait(qtbot, window, tmp_path / "photos")
    state = window.state
    cat = state.edits.add_category("cat")
    state.edits.add_category("dog")
    ann = state.add_box([40, 40, 60, 50], cat)
    window.canvas.setFocus()
    return window, ann


def bbox(window, ann):
    return window.state.document.annotation(ann)["bbox"]


def test_move_by_dragging_the_box(qtbot, boxed):
    window, ann = boxed
    drag(window.canvas.viewport(), view_point(window, 70, 65), view_point(window, 100, 85))
    x, y, w, h = bbox(window, ann)
    assert abs(x - 70) <= 1.5 and abs(y - 60) <= 1.5 and (w, h) == (60, 50)
    window.state.undo_stack.undo()
    assert bbox(window, ann) == [40, 40, 60, 50]


def test_resize_by_each_handle_stays_inside_the_image(qtbot, boxed):
    window, ann = boxed
    window.state.set_selection([ann])
    # bottom-right handle (index 4) dragged far outside the image: clamped to 300x200
    corner = handle_points(window.canvas.box_items()[ann].rect())[4]
    drag(window.canvas.viewport(), view_point(window, corner.x(), corner.y()), view_point(window, 900, 900))
    x, y, w, h = bbox(window, ann)
    assert (x, y) == (40, 40) and abs(x + w - 300) <= 1 and abs(y + h - 200) <= 1
    # left-edge handle (index 7) dragged right: only x and width change
    left = handle_points(window.canvas.box_items()[ann].rect())[7]
    drag(window.canvas.viewport(), view_point(window, left.x(), left.y()), view_point(window, 100, left.y()))
    x2, y2, w2, h2 = bbox(window, ann)
    assert abs(x2 - 100) <= 1.5 and y2 == y and abs(x2 + w2 - (x + w)) <= 0.01 and h2 == h
    assert window.state.undo_stack.count() >= 2
    window.state.undo_stack.undo()
    window.state.undo_stack.undo()
    assert bbox(window, ann) == [40, 40, 60, 50]


def test_arrow_keys_nudge_and_merge_into_one_undo_step(qtbot, boxed):
    window, ann = boxed
    window.state.set_selection([ann])
    steps_before = window.state.undo_stack.count()
    QTest.keyClick(window.canvas, Qt.Key.Key_Right)
    QTest.keyClick(window.canvas, Qt.Key.Key_Right)
    QTest.keyClick(window.canvas, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert bbox(window, ann) == [42, 50, 60, 50]
    assert window.state.undo_stack.count() == steps_before + 1
    for _ in range(10):  # Shift+Left x10 = -100 px, stopped at the border
        QTest.keyClick(window.canvas, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert bbox(window, ann)[0] == 0
    window.state.undo_stack.undo()
    assert bbox(window, ann) == [40, 40, 60, 50]


def test_delete_duplicate_select_all(qtbot, boxed):
    window, ann = boxed
    state = window.state
    state.set_selection([ann])
    QTest.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(state.current_annotations()) == 2
    copy = state.selection[0]
    assert copy != ann and bbox(window, copy) == [50, 50, 60, 50]
    QTest.keyClick(window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert sorted(state.selection) == sorted([ann, copy])
    QTest.keyClick(window, Qt.Key.Key_Delete)
    assert state.current_annotations() == []
    state.undo_stack.undo()
    assert len(state.current_annotations()) == 2 and sorted(state.selection) == sorted([ann, copy])


def test_click_selects_and_escape_clears(qtbot, boxed):
    window, ann = boxed
    state = window.state
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window, 70, 65))
    assert state.selection == [ann]
    QTest.keyClick(window.canvas, Qt.Key.Key_Escape)
    assert state.selection == []
    # rubber band over empty area then over the box
    drag(window.canvas.viewport(), view_point(window, 5, 5), view_point(window, 150, 150))
    assert state.selection == [ann]


def test_hide_one_class_or_all_boxes(qtbot, boxed):
    window, ann = boxed
    state = window.state
    dog = state.document.category_by_name("dog")["id"]
    dog_box = state.add_box([200, 100, 30, 30], dog)
    assert set(window.canvas.box_items()) == {ann, dog_box}
    state.set_category_visible(dog, False)
    assert set(window.canvas.box_items()) == {ann}
    QTest.keyClick(window, Qt.Key.Key_H)
    assert window.canvas.box_items() == {}
    QTest.keyClick(window, Qt.Key.Key_H)
    state.set_category_visible(dog, True)
    assert set(window.canvas.box_items()) == {ann, dog_box}
    QTest.keyClick(window, Qt.Key.Key_L)  # class-name tags off, boxes stay
    assert all(not label.isVisible() for label in
               (item.childItems()[0] for item in window.canvas.box_items().values()))
    QTest.keyClick(window, Qt.Key.Key_L)
    assert all(item.childItems()[0].isVisible() for item in window.canvas.box_items().values())


def test_zoom_keys_fit_and_pan(qtbot, boxed):
    window, _ = boxed
    canvas = window.canvas
    zooms = []
    canvas.zoom_changed.connect(zooms.append)
    QTest.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert canvas.zoom() == pytest.approx(1.0)
    QTest.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert canvas.zoom() == pytest.approx(1.25)
    QTest.keyClick(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert canvas.zoom() == pytest.approx(1.0)
    for _ in range(8):
        QTest.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    centre_before = canvas.mapToScene(canvas.viewport().rect().center())
    drag(canvas.viewport(), canvas.viewport().rect().center(), canvas.viewport().rect().center() + QPointF(-60, -40).toPoint(),
         button=Qt.MouseButton.MiddleButton)
    centre_after = canvas.mapToScene(canvas.viewport().rect().center())
    assert centre_after.x() > centre_before.x() and centre_after.y() > centre_before.y()
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    view = canvas.viewport().rect()
    assert canvas.zoom() == pytest.approx(min(view.width() / 300, view.height() / 200), rel=0.05)
    assert zooms and zooms[-1] == pytest.approx(canvas.zoom())


def test_wheel_zooms_under_the_cursor(qtbot, boxed):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent
    window, _ = boxed
    canvas = window.canvas
    for _ in range(6):  # well past "fit", so the view can scroll in both directions
        QTest.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    before = canvas.zoom()
    canvas.centerOn(200, 120)
    pos = view_point(window, 210, 125)
    event = QWheelEvent(QPointF(pos), QPointF(canvas.viewport().mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    canvas.wheelEvent(event)
    assert canvas.zoom() == pytest.approx(before * 1.2)
    under = canvas.mapToScene(pos)
    assert abs(under.x() - 210) < 1 and abs(under.y() - 125) < 1  # the pixel stayed under the cursor


def test_undo_across_images_brings_the_image_back(qtbot, boxed):
    window, ann = boxed
    state = window.state
    QTest.keyClick(window, Qt.Key.Key_D)
    wait_image(qtbot, window)
    assert state.current_row == 1
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undoes the box on image 0
    assert state.current_row == 0
    assert state.current_annotations() == []
    wait_image(qtbot, window)
    QTest.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert [a["id"] for a in state.current_annotations()] == [ann]
    qtbot.waitUntil(lambda: ann in window.canvas.box_items())


def test_add_boxes_to_another_image_in_one_undo_step(qtbot, boxed):
    """The seam for accepting predictions: several boxes on any image, one undoable step."""
    window, ann = boxed
    state = window.state
    cat, dog = (state.document.category_by_name(n)["id"] for n in ("cat", "dog"))
    ids = state.edits.add_boxes(2, [(cat, [1, 1, 10, 10]), (dog, [20, 20, 30, 30]), (999, [0, 0, 1, 1])])
    assert len(ids) == 2 and state.current_row == 0  # unknown class 999 skipped; no navigation
    assert state.status(2) == "edited" and len(state.annotations(2)) == 2
    state.undo_stack.undo()
    assert state.current_row == 2 and state.annotations(2) == [] and state.entry(2).image_id is None


def test_an_edit_the_document_refuses_is_reported_and_not_kept(qtbot, boxed):
    window, ann = boxed
    state = window.state
    messages = []
    state.message.connect(messages.append)
    steps = state.undo_stack.count()
    state.set_bboxes({ann: [1, 1, -5, 3]})  # a negative width
    assert "not applied" in messages[-1] and "negative" in messages[-1]
    assert state.undo_stack.count() == steps and state.document.annotation(ann)["bbox"] == [40, 40, 60, 50]
    assert state.status(0) == "edited"
    state.undo_stack.undo()  # the last real edit (the box) is still what undo takes back
    assert state.current_annotations() == []


def test_tab_walks_the_boxes_left_to_right(qtbot, boxed):
    window, ann = boxed
    state = window.state
    right = state.add_box([200, 10, 20, 20], state.document.category_by_name("dog")["id"])
    state.set_selection([])
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_Tab)
    assert state.selection == [ann]
    QTest.keyClick(window.canvas, Qt.Key.Key_Tab)
    assert state.selection == [right]
    QTest.keyClick(window.canvas, Qt.Key.Key_Tab)
    assert state.selection == [ann]  # wraps around
    QTest.keyClick(window.canvas, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert state.selection == [right]
    assert window.canvas.hasFocus()
