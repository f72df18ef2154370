"""Crash recovery through the window: the edit journal, its compaction (the autosave), and reopening
after a crash in every layout the workbench opens. A "crash" here is a window that is never
closed: its journal is flushed as the writer thread would within 0.2 s, nothing else is written.
(tests/core/test_journal_crash.py kills a real process with SIGKILL.)"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from workbench_helpers import close_window, make_images, make_window, open_and_wait, save_and_wait, wait_image

B = QMessageBox.StandardButton
SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"  # annotations.json + images/


def crash(window) -> None:
    """What a kill -9 leaves: whatever the journal writer had written (it writes at once; fsync
    at most 0.2 s later). The window is abandoned, never closed."""
    keeper = getattr(window.session, "journal", None)  # (absent before the journal: issue 16)
    if keeper is not None:
        assert keeper.journal.flush()


def _crashed_after_one_box(qtbot, window, tmp_path):
    """A plain folder of 2 images, one box drawn, then a crash: (the folder, its journal)."""
    folder = tmp_path / "photos"
    make_images(folder, 2, size=(100, 80))
    open_and_wait(qtbot, window, folder)
    window.state.add_box([5, 5, 30, 30], window.state.edits.add_category("cat"))
    crash(window)
    return folder, folder / "annotations.json.journal"


def reopen_and_recover(qtbot, settings, tmp_path, dialogs, path, image_root=None):
    """A fresh window (a new start) opens `path` and answers Yes to "Recover unsaved work?"."""
    other = make_window(qtbot, settings, tmp_path)
    dialogs.question_answer = B.Yes
    asked = len(dialogs.texts("question"))
    with qtbot.waitSignals([other.session.opened, other.session.opened], timeout=10_000):
        other.session.open(str(path), image_root)  # opened, then re-opened with the recovered work
    wait_image(qtbot, other)
    assert any("Recover unsaved work?" in t for t in dialogs.texts("question")[asked:])
    return other


def delete_first_box(qtbot, window) -> dict:
    """On the first image with boxes (shown and settled first: changing images autosaves)."""
    state = window.state
    row = next(r for r in range(state.row_count()) if state.annotations(r))
    state.go_to(row)
    wait_image(qtbot, window)
    qtbot.wait(50)  # the autosave queued by the image change runs now, before the edit
    box = state.annotations(row)[0]
    state.set_selection([box["id"]])
    state.edits.delete_boxes(row, [box["id"]])
    return box


def test_recovery_on_the_samples_folder_finds_the_images_in_images(qtbot, window, dialogs, settings,
                                                                    tmp_path):
    """Issue 16, first defect: `make run` opens resources/samples (images in images/); delete a box,
    autosave, crash, reopen, recover: the list showed 48 images, 24 of them missing."""
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    open_and_wait(qtbot, window, folder)
    box = delete_first_box(qtbot, window)
    with qtbot.waitSignal(window.session.autosaved, timeout=5000):
        window.session.autosave()
    crash(window)
    other = reopen_and_recover(qtbot, settings, tmp_path, dialogs, folder)
    state = other.state
    assert state.row_count() == 24 and state.document.image_root == folder / "images"
    assert all(state.entry(r).image_id is not None for r in range(24))
    assert not any("not found" in t for t in dialogs.texts("warning"))
    assert state.current_entry().error is None and state.current_image is not None
    assert box["id"] not in {a["id"] for a in state.document.annotations}
    assert len(state.document.annotations) == len(window.state.document.annotations)
    assert state.is_dirty()
    close_window(other, dialogs)


def test_an_edit_right_before_a_crash_is_recovered_without_any_autosave(qtbot, window, dialogs,
                                                                        settings, tmp_path):
    """Issue 16, second defect: an edit then kill -9 within the 30 s autosave window was lost and
    no recovery was offered."""
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    open_and_wait(qtbot, window, folder)
    before = len(window.state.document.annotations)
    box = delete_first_box(qtbot, window)
    window.state.mark_reviewed()
    crash(window)  # no autosave ran: the timer is an hour, the image did not change
    other = reopen_and_recover(qtbot, settings, tmp_path, dialogs, folder)
    doc = other.state.document
    assert len(doc.annotations) == before - 1 and box["id"] not in {a["id"] for a in doc.annotations}
    assert doc.image(box["image_id"])["workbench_status"] == "reviewed"  # statuses are edits too
    close_window(other, dialogs)


def _layout(kind: str, tmp_path: Path) -> tuple[Path, Path | None, Path]:
    """(what to open, the image root to give, the JSON file Save writes)."""
    if kind == "beside":
        make_images(tmp_path / "proj", 2, size=(100, 80))
        json_path = tmp_path / "proj" / "annotations.json"
        root = tmp_path / "proj"
    elif kind == "images-subfolder":
        make_images(tmp_path / "proj" / "images", 2, size=(100, 80))
        json_path = tmp_path / "proj" / "annotations.json"
        root = tmp_path / "proj" / "images"
    else:  # "other-root": the user chose the image folder
        make_images(tmp_path / "pictures", 2, size=(100, 80))
        json_path = tmp_path / "labels" / "mine.json"
        json_path.parent.mkdir()
        root = tmp_path / "pictures"
    data = {"images": [{"id": 1, "file_name": "img1.png", "width": 100, "height": 80},
                       {"id": 2, "file_name": "img2.png", "width": 100, "height": 80}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 9, 9],
                             "area": 81, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "cat", "supercategory": ""}]}
    json_path.write_text(json.dumps(data))
    return json_path, (root if kind == "other-root" else None), json_path


@pytest.mark.parametrize("kind", ["beside", "images-subfolder", "other-root", "plain-folder"])
def test_recovery_in_every_layout_never_duplicates(qtbot, window, dialogs, settings, tmp_path, kind):
    if kind == "plain-folder":
        make_images(tmp_path / "photos", 3, size=(100, 80))
        source, given_root, target = tmp_path / "photos", None, tmp_path / "photos" / "annotations.json"
    else:
        source, given_root, target = _layout(kind, tmp_path)
    open_and_wait(qtbot, window, source, given_root)
    rows = window.state.row_count()
    cat = window.state.edits.add_category("dog")
    window.state.add_box([5, 5, 30, 30], cat)
    window.state.go_to(1)
    window.state.add_box([7, 7, 10, 10], cat)
    journal = target.with_name(target.name + ".journal")
    crash(window)
    assert journal.is_file() and not (kind == "plain-folder" and target.exists())
    # The next open of the JSON (of the folder) finds the journal beside it and recovers.
    other = reopen_and_recover(qtbot, settings, tmp_path, dialogs, source)
    doc = other.state.document
    assert doc.image_root == window.state.document.image_root
    assert json.dumps(doc.data) == json.dumps(window.state.document.data)  # exactly, key order too
    assert other.state.row_count() == rows  # no image listed twice
    assert len({e.path for e in other.state.entries}) == rows
    assert all(other.state.entry(r).error is None for r in range(rows) if r == other.state.current_row)
    dialogs.save_path = str(target)
    save_and_wait(qtbot, other)
    qtbot.waitUntil(lambda: not journal.exists(), timeout=2000)  # removed by the writer thread
    assert json.loads(target.read_text()) == doc.data
    close_window(other, dialogs)


def test_startup_offers_the_journal_of_a_crashed_session(qtbot, window, dialogs, tmp_path, settings):
    folder = tmp_path / "photos"
    make_images(folder, 2, size=(100, 80))
    open_and_wait(qtbot, window, folder)
    cat = window.state.edits.add_category("cat")
    window.state.add_box([5, 5, 30, 30], cat)
    journal = folder / "annotations.json.journal"
    with qtbot.waitSignal(window.session.autosaved, timeout=5000):
        window.state.go_next()  # autosave on image change: the journal is compacted
    assert json.loads(journal.read_bytes().split(b" ", 2)[2].split(b"\n")[0])["snapshot"]["annotations"]
    assert not (folder / "annotations.json").exists()  # autosave never touches the real file
    crash(window)
    other = make_window(qtbot, settings, tmp_path)
    dialogs.question_answer = B.Yes
    with qtbot.waitSignal(other.session.opened, timeout=5000):
        assert other.flows.offer_startup_recovery()
    wait_image(qtbot, other)
    assert any("did not close normally" in t for t in dialogs.texts("question"))
    assert len(other.state.annotations(0)) == 1 and other.state.is_dirty()
    assert other.state.document.category_by_name("cat") is not None
    dialogs.save_path = str(folder / "annotations.json")
    save_and_wait(qtbot, other)
    qtbot.waitUntil(lambda: not journal.exists(), timeout=2000)
    assert other.session.pending_recoveries() == []
    close_window(other, dialogs)


def test_no_discards_the_journal_and_a_saved_journal_is_not_offered(qtbot, window, dialogs, tmp_path,
                                                                     settings):
    folder, journal = _crashed_after_one_box(qtbot, window, tmp_path)
    third = make_window(qtbot, settings, tmp_path)
    dialogs.question_answer = B.No
    with qtbot.waitSignal(third.session.recovery_offered, timeout=5000):
        third.session.open(str(folder))
    assert not journal.exists() and third.state.annotations(0) == []
    close_window(third, dialogs)


def test_a_journal_left_by_a_crash_right_after_saving_goes_quietly(qtbot, window, dialogs, tmp_path,
                                                                  settings):
    folder, journal = _crashed_after_one_box(qtbot, window, tmp_path)
    kept = journal.read_bytes()
    dialogs.save_path = str(folder / "annotations.json")
    save_and_wait(qtbot, window)
    journal.write_bytes(kept)  # the crash came between the save and the journal's removal
    other = make_window(qtbot, settings, tmp_path)
    open_and_wait(qtbot, other, folder)
    assert not dialogs.texts("question") or "Recover" not in dialogs.texts("question")[-1]
    assert not journal.exists() and len(other.state.document.annotations) == 1
    close_window(other, dialogs)


def test_autosave_timer_compacts_without_navigation(qtbot, dialogs, tmp_path, settings):
    win = make_window(qtbot, settings, tmp_path, autosave_seconds=0.2)
    folder = tmp_path / "photos"
    make_images(folder, 1, size=(100, 80))
    open_and_wait(qtbot, win, folder)
    win.state.add_box([5, 5, 30, 30], win.state.edits.add_category("cat"))
    with qtbot.waitSignal(win.session.autosaved, timeout=3000) as blocker:
        pass
    assert blocker.args[0].endswith("annotations.json.journal")
    close_window(win, dialogs)
    assert not (folder / "annotations.json.journal").exists()  # discarded on a deliberate close
