"""Keeping work safe: unreadable images, refused COCO files, failed saves, files changed on disk
(autosave and crash recovery: test_recovery.py)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QMessageBox

from app.document.image_filter import ERROR, ImageFilter
from app.image_list import STATUS_ROLE
from workbench_helpers import (close_window, folder_with_a_saved_box, make_images, make_window, open_and_wait,
                              save_and_wait, wait_image)

B = QMessageBox.StandardButton


def make_bad_images(folder):
    make_images(folder, 2, size=(80, 60))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    good = (folder / "img1.png").read_bytes()
    real_jpeg = folder / "full.jpg"
    from PIL import Image
    Image.open(folder / "img1.png").save(real_jpeg, quality=90)
    (folder / "truncated.jpg").write_bytes(real_jpeg.read_bytes()[: len(real_jpeg.read_bytes()) // 3])
    real_jpeg.unlink()
    (folder / "not-an-image.webp").write_text("hello")
    return good


def test_unreadable_images_get_an_error_mark_and_a_message(qtbot, window, tmp_path):
    folder = tmp_path / "mixed"
    make_bad_images(folder)
    messages = []
    window.state.message.connect(messages.append)
    open_and_wait(qtbot, window, folder)
    state, model = window.state, window.image_list.model
    bad = {"empty.jpg", "corrupt.png", "truncated.jpg", "not-an-image.webp"}
    assert {e.name for e in state.entries} == bad | {"img1.png", "img2.png"}
    for row, entry in enumerate(state.entries):
        state.go_to(row)
        wait_image(qtbot, window)
        index = model.index(row, 0, QModelIndex())
        if entry.name in bad:
            assert entry.error and entry.name in entry.error  # one line naming the file
            assert "\n" not in entry.error
            assert model.data(index, STATUS_ROLE) == ERROR
            assert model.data(index, 0x1) is not None  # the warning icon
            assert any(entry.name in m for m in messages)
            assert window.canvas.image_rect().isEmpty()
        else:
            assert entry.error is None and not window.canvas.image_rect().isEmpty()
    state.set_filter(ImageFilter(status=ERROR))
    assert window.image_list.model.rowCount() == len(bad)
    # A bad image cannot be drawn on, but the window carries on.
    state.set_filter(ImageFilter())
    state.go_to(next(r for r, e in enumerate(state.entries) if e.name == "empty.jpg"))
    wait_image(qtbot, window)
    window.canvas.start_drawing()
    assert window.canvas.mode() == "select"


@pytest.mark.parametrize("content, expected", [
    ("{not json", "malformed JSON"),
    (json.dumps({"images": [{"id": "x", "file_name": "a.png", "width": 1, "height": 1}],
                 "annotations": [], "categories": []}), "problem"),
])
def test_a_broken_coco_file_is_refused_with_path_and_problem(qtbot, window, dialogs, tmp_path, content, expected):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with qtbot.waitSignal(window.session.open_failed, timeout=5000):
        window.session.open(str(bad))
    warnings = dialogs.texts("warning")
    assert len(warnings) == 1 and str(bad) in warnings[0] and expected in warnings[0]
    assert window.state.document is None


def test_a_fixable_coco_file_is_loaded_with_a_warning(qtbot, window, dialogs, tmp_path):
    make_images(tmp_path / "imgs", 1, size=(80, 60))
    data = {"images": [{"id": 1, "file_name": "img1.png", "width": 80, "height": 60}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
            "categories": [{"id": 1, "name": "cat"}]}
    path = tmp_path / "imgs" / "annotations.json"
    path.write_text(json.dumps(data))
    open_and_wait(qtbot, window, path)
    assert window.state.row_count() == 1
    assert any("area" in t for t in dialogs.texts("warning"))


def test_failed_save_keeps_the_old_file_and_the_edits(qtbot, window, dialogs, tmp_path):
    folder, cat = folder_with_a_saved_box(qtbot, window, dialogs, tmp_path)
    target = folder / "annotations.json"
    first = target.read_bytes()
    window.state.add_box([30, 30, 20, 20], cat)
    blocker = folder / "annotations.json.bak"  # a folder where the backup must go: the save fails
    assert not blocker.exists()  # the first save had no previous version to keep
    blocker.mkdir()
    (blocker / "keep").write_text("x")
    with qtbot.waitSignal(window.session.save_failed, timeout=5000):
        window.flows.save()
    message = dialogs.texts("warning")[-1]
    assert str(target) in message and "nothing was lost" in message
    assert target.read_bytes() == first  # old file intact
    assert window.state.is_dirty() and len(window.state.current_annotations()) == 2  # edits kept
    assert not window.state.busy
    # Save As somewhere impossible (the parent is a file) fails the same way.
    dialogs.save_path = str(folder / "img1.png" / "x.json")
    with qtbot.waitSignal(window.session.save_failed, timeout=5000):
        window.flows.save_as()
    assert "x.json" in dialogs.texts("warning")[-1]
    shutil.rmtree(blocker)
    save_and_wait(qtbot, window)
    assert len(json.loads(target.read_text())["annotations"]) == 2


def test_file_changed_on_disk_asks_before_overwriting(qtbot, window, dialogs, tmp_path):
    folder, cat = folder_with_a_saved_box(qtbot, window, dialogs, tmp_path)
    target = folder / "annotations.json"
    theirs = json.loads(target.read_text())
    theirs["info"]["description"] = "edited by someone else"
    target.write_text(json.dumps(theirs))
    window.state.add_box([30, 30, 20, 20], cat)
    dialogs.question_answer = B.Cancel
    with qtbot.waitSignal(window.session.disk_changed, timeout=5000):
        window.flows.save()
    assert any("changed by someone else" in t for t in dialogs.texts("question"))
    assert json.loads(target.read_text()) == theirs and window.state.is_dirty()
    dialogs.question_answer = B.Yes  # overwrite
    with qtbot.waitSignal(window.session.saved, timeout=5000):
        window.flows.save()
    assert len(json.loads(target.read_text())["annotations"]) == 2
    assert json.loads((folder / "annotations.json.bak").read_text()) == theirs


# Autosave and crash recovery: tests/app/test_recovery.py.


def test_big_documents_save_on_a_worker_and_edits_wait(qtbot, window, dialogs, tmp_path):
    folder, cat = folder_with_a_saved_box(qtbot, window, dialogs, tmp_path)
    window.session.small_document = 0  # treat this document as big
    window.state.add_box([30, 30, 20, 20], cat)
    messages = []
    window.state.message.connect(messages.append)
    with qtbot.waitSignal(window.session.saved, timeout=5000):
        assert window.flows.save()
        assert window.state.busy and window.status_bar.dirty.text() == "Saving…"
        assert window.state.add_box([60, 60, 5, 5], cat) is None  # refused while writing
        assert "Saving" in messages[-1]
    assert not window.state.busy and not window.state.is_dirty()
    assert len(json.loads((folder / "annotations.json").read_text())["annotations"]) == 2
    assert window.state.add_box([60, 60, 5, 5], cat) is not None


def test_json_whose_images_are_elsewhere_asks_for_the_image_folder(qtbot, window, dialogs, shared_data, tmp_path):
    copy = tmp_path / "labels.json"
    shutil.copy(shared_data / "coco_tiny/annotations/instances_val2017.json", copy)
    dialogs.question_answer = B.Yes
    dialogs.existing_directory = str(shared_data / "coco_tiny/val2017")
    with qtbot.waitSignals([window.session.opened, window.session.opened], timeout=10_000):
        window.flows.open_path(str(copy))
    assert any("Images not found" in t for t in dialogs.texts("question"))
    assert dialogs.texts("warning") == []  # one question, not a question and a warning
    wait_image(qtbot, window)
    assert window.state.current_entry().error is None
    assert window.state.document.image_root == shared_data / "coco_tiny/val2017"


def test_opening_one_image_lists_its_folder_and_shows_it(qtbot, window, tmp_path):
    paths = make_images(tmp_path / "photos", 4)
    open_and_wait(qtbot, window, paths[2])
    assert window.state.row_count() == 4
    assert window.state.current_entry().path == str(paths[2])


def test_the_bundled_samples_folder_opens_with_its_images_in_a_subfolder(qtbot, window, dialogs):
    samples = Path(__file__).resolve().parents[2] / "resources" / "samples"  # annotations.json + images/
    open_and_wait(qtbot, window, samples)
    assert window.state.row_count() == 24  # each image once, found under images/, none missing
    assert all(window.state.entry(row).image_id is not None for row in range(24))
    assert window.state.document.image_root == samples / "images"
    assert not dialogs.asked, dialogs.asked
