"""Class management from the classes dock (add, rename, supercategory, colour, merge, delete with
each box policy), every operation undoable; image list filters; the shortcut sheet."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QColorDialog, QMessageBox

from app.actions import ACTIONS
from app.document.image_filter import ImageFilter
from workbench_helpers import make_images, open_and_wait, wait_image


@pytest.fixture
def labelled(qtbot, window, tmp_path):
    """Three images: image 0 has cat+dog boxes, image 1 a dog box, image 2 nothing."""
    make_images(tmp_path / "photos", 3, size=(120, 90))
    open_and_wait(qtbot, window, tmp_path / "photos")
    s = window.state
    cat, dog = s.edits.add_category("cat"), s.edits.add_category("dog")
    s.add_box([1, 1, 20, 20], cat)
    s.add_box([30, 30, 20, 20], dog)
    s.go_to(1)
    wait_image(qtbot, window)
    s.add_box([5, 5, 10, 10], dog)
    s.go_to(0)
    wait_image(qtbot, window)
    return window, cat, dog


def snapshot(state) -> str:
    return json.dumps(state.document.data, sort_keys=True)


def choose(window, category_id):
    window.classes.select(category_id)
    assert window.classes.selected_id() == category_id


def test_add_rename_supercategory_colour_each_undoable(qtbot, labelled, dialogs, monkeypatch):
    window, cat, dog = labelled
    s, dock = window.state, window.classes
    before = snapshot(s)
    dialogs.text_answer = ("bird", True)
    dock.actions["add"].trigger()
    bird = s.document.category_by_name("bird")["id"]
    assert dock.tree.topLevelItemCount() == 3 and dock.selected_id() == bird
    dialogs.text_answer = ("sparrow", True)
    dock.actions["rename"].trigger()
    assert s.category_name(bird) == "sparrow"
    dialogs.text_answer = ("animal", True)
    dock.actions["super"].trigger()
    assert s.document.category(bird)["supercategory"] == "animal"
    monkeypatch.setattr(QColorDialog, "getColor", lambda *a, **k: QColor("#123456"))
    dock.actions["color"].trigger()
    assert s.category_color(bird) == QColor("#123456")
    dialogs.text_answer = ("cat", True)  # a duplicate name is refused with a message
    messages = []
    s.message.connect(messages.append)
    dock.actions["rename"].trigger()
    assert s.category_name(bird) == "sparrow" and "already" in messages[-1]
    for _ in range(4):
        s.undo_stack.undo()
    assert snapshot(s) == before


def test_merge_moves_boxes_and_undo_restores(qtbot, labelled, dialogs):
    window, cat, dog = labelled
    s, dock = window.state, window.classes
    before = snapshot(s)
    choose(window, dog)
    dialogs.item_answer = 0  # the only other class: cat
    dock.actions["merge"].trigger()
    assert [c["name"] for c in s.categories()] == ["cat"]
    assert {a["category_id"] for a in s.document.annotations} == {cat}
    assert {b.label_text() for b in window.canvas.box_items().values()} == {"cat"}
    s.undo_stack.undo()
    assert snapshot(s) == before
    s.undo_stack.redo()
    assert [c["name"] for c in s.categories()] == ["cat"]


@pytest.mark.parametrize("answer, boxes_left", [(0, 1), (1, 3)])
def test_delete_asks_what_becomes_of_the_boxes(qtbot, labelled, dialogs, answer, boxes_left):
    window, cat, dog = labelled
    s, dock = window.state, window.classes
    before = snapshot(s)
    choose(window, dog)
    dialogs.item_answer = answer  # 0: delete the boxes, 1: keep them as cat
    dock.actions["delete"].trigger()
    asked = dialogs.texts("item")[-1]
    assert "has 2 boxes" in asked and "Keep the boxes as “cat”" in asked
    assert s.document.category_by_name("dog") is None
    assert len(s.document.annotations) == boxes_left
    assert all(a["category_id"] == cat for a in s.document.annotations)
    s.undo_stack.undo()
    assert snapshot(s) == before


def test_delete_of_an_empty_class_only_confirms(qtbot, labelled, dialogs):
    window, cat, dog = labelled
    bird = window.state.edits.add_category("bird")
    choose(window, bird)
    dialogs.question_answer = QMessageBox.StandardButton.No
    window.classes.actions["delete"].trigger()
    assert window.state.edits.has_category(bird)
    dialogs.question_answer = QMessageBox.StandardButton.Yes
    window.classes.actions["delete"].trigger()
    assert not window.state.edits.has_category(bird)


def test_dock_shows_counts_visibility_and_search(qtbot, labelled):
    window, cat, dog = labelled
    tree = window.classes.tree
    qtbot.waitUntil(lambda: tree.topLevelItem(1).text(1) == "2")
    assert tree.topLevelItem(0).text(1) == "1"
    assert tree.topLevelItem(0).text(0).startswith("1") and "cat" in tree.topLevelItem(0).text(0)
    tree.topLevelItem(1).setCheckState(0, Qt.CheckState.Unchecked)
    assert not window.state.is_category_visible(dog)
    assert {b.label_text() for b in window.canvas.box_items().values()} == {"cat"}
    QTest.keyClicks(window.classes.search, "do")
    assert tree.topLevelItem(0).isHidden() and not tree.topLevelItem(1).isHidden()


def test_filters_by_status_class_and_name_and_navigation_follows(qtbot, labelled):
    window, cat, dog = labelled
    s, listed = window.state, window.image_list.model
    s.edits.set_status(1, "reviewed")
    combo = window.image_list.status_combo
    combo.setCurrentIndex(combo.findData("unlabelled"))
    assert listed.rowCount() == 1 and window.image_list.visible_rows() == [2]
    combo.setCurrentIndex(combo.findData("edited"))
    assert window.image_list.visible_rows() == [0]
    combo.setCurrentIndex(0)
    klass = window.image_list.class_combo
    klass.setCurrentIndex(klass.findData(dog))
    assert window.image_list.visible_rows() == [0, 1]
    s.go_to(0)
    s.go_next()  # D walks the filtered list
    assert s.current_row == 1
    s.go_next()
    assert s.current_row == 1  # image 2 has no dog
    klass.setCurrentIndex(0)
    QTest.keyClicks(window.image_list.search, "img3")
    assert window.image_list.visible_rows() == [2]
    assert s.filter == ImageFilter(text="img3")
    window.image_list.search.clear()
    s.go_to(0)
    s.go_next_unreviewed()
    assert s.current_row == 2  # image 1 is reviewed


def test_shortcut_sheet_lists_every_key(qtbot, window):
    QTest.keyClick(window, Qt.Key.Key_F1)
    sheet = window.show_shortcuts()
    assert sheet.isVisible()
    text = sheet.browser.toPlainText()
    for spec in ACTIONS:
        for key in spec.keys:
            if not spec.name.startswith("class_"):
                assert key in text, key
    assert "1 … 9" in text and "Space + drag" in text and "Shift+arrow" in text
    QTest.keyClicks(sheet.search, "undo")
    assert "Ctrl+Z" in sheet.browser.toPlainText() and "Ctrl+S" not in sheet.browser.toPlainText()
    # Every window action is reachable by its keys: no two actions share a key.
    keys = [k for spec in ACTIONS for k in spec.keys]
    assert len(keys) == len(set(keys))
