"""Issue 16, "nothing lost": opening another document, or closing the window, while a big document
is being written on a worker (a Save, or an autosave's compaction).

The user's question "Save the changes first?" came while the document was still dirty (a save
marks it saved only when its worker is done):

- answering Save started no save (one was running), so the open or the close was silently
  dropped: the window stayed on the old document, or stayed open;
- answering Discard during a big autosave removed the journal, then the autosave's compaction,
  queued after it, wrote the journal again and registered it: the discarded work was offered
  for recovery at the next open or start.

Now opening, closing the document and closing the window first wait for a running write (its
result is delivered then, so a finished save leaves nothing to ask about).

The document is "big" by `session.small_document = 0` (test_window_safety.py). No events are
processed between starting the write and the user's next action, so that action lands while the
worker runs (or before the window has heard that it finished)."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from test_recovery_while_saving import _saved_folder_with_two_boxes, _until_rewritten
from workbench_helpers import close_window, make_images, make_window, wait_image

B = QMessageBox.StandardButton


def _registered(window) -> list[str]:
    return [e["sidecar"] for e in window.session._registry()]


def _other_folder(tmp_path) -> Path:
    folder = tmp_path / "other"
    make_images(folder, 3, size=(90, 70), seed=1)
    return folder


def _open_with_answer(qtbot, window, dialogs, path: Path, answer) -> None:
    """File > Open of `path` (as a recent item or a drop does), answering "Save the changes
    first?" with `answer` if it is asked."""
    dialogs.question_answer = answer
    with qtbot.waitSignal(window.session.opened, timeout=10_000):
        window.flows.open_path(str(path))
    wait_image(qtbot, window)


def _boxes(path: Path) -> list:
    return [a["bbox"] for a in json.loads(path.read_text())["annotations"]]


def test_opening_a_folder_while_a_big_save_writes_opens_it_after_the_save(qtbot, window, dialogs,
                                                                        tmp_path):
    state, session = window.state, window.session
    target = _saved_folder_with_two_boxes(qtbot, window, dialogs, tmp_path)
    shown = [a["bbox"] for a in state.document.data["annotations"]]
    old = target.read_bytes()
    other = _other_folder(tmp_path)
    assert window.flows.save()
    _until_rewritten(target, old)  # written; the window has not heard yet
    _open_with_answer(qtbot, window, dialogs, other, B.Save)  # the default answer, if asked
    assert state.root == other and len(state.entries) == 3  # the open was not dropped
    assert _boxes(target) == shown  # the first file fully written
    assert not state.is_dirty() and not state.busy and not session.is_saving()
    assert not session.sidecar_for(target).exists() and _registered(window) == []
    # The new document is not the saved one: its first edit makes it dirty and is journalled
    # beside it, on the new document's own journal.
    assert state.add_box([2, 2, 10, 10], state.edits.add_category("dog")) is not None
    assert state.is_dirty()
    new_journal = session.sidecar_for(other / "annotations.json")
    assert session.journal.path == new_journal and _registered(window) == [str(new_journal)]
    assert not session.sidecar_for(target).exists()


def test_discarding_while_a_big_autosave_compacts_leaves_no_journal(qtbot, window, dialogs, settings,
                                                                   tmp_path):
    """Discard (opening another folder) while the autosave's worker compacts the journal: the file
    stays as it was saved, and the discarded work is neither on disk nor offered again."""
    state, session = window.state, window.session
    target = _saved_folder_with_two_boxes(qtbot, window, dialogs, tmp_path)  # 1 box saved, 1 not
    saved = target.read_bytes()
    journal = session.sidecar_for(target)
    other = _other_folder(tmp_path)
    session.autosave()
    assert state.busy and session.runner.is_running("autosave")
    _open_with_answer(qtbot, window, dialogs, other, B.Discard)
    qtbot.waitUntil(lambda: not session.runner.is_running() and not state.busy)
    assert state.root == other
    assert target.read_bytes() == saved  # the old file, whole
    assert not journal.exists(), "the discarded journal was written again"
    assert str(journal) not in _registered(window)
    close_window(window, dialogs)
    again = make_window(qtbot, settings, tmp_path)  # a new start, then the first folder again
    try:
        assert again.session.pending_recoveries() == []
        dialogs.asked.clear()
        with qtbot.waitSignal(again.session.opened, timeout=10_000):
            again.flows.open_path(str(target.parent))
        assert not [t for t in dialogs.texts("question") if "Recover" in t]
        assert len(again.state.document.data["annotations"]) == 1  # the discarded box is gone
    finally:
        close_window(again, dialogs)


def test_closing_the_document_while_a_big_autosave_compacts_leaves_no_journal(qtbot, window, dialogs,
                                                                             tmp_path):
    state, session = window.state, window.session
    target = _saved_folder_with_two_boxes(qtbot, window, dialogs, tmp_path)
    saved = target.read_bytes()
    journal = session.sidecar_for(target)
    session.autosave()
    assert state.busy and session.runner.is_running("autosave")
    dialogs.question_answer = B.Discard
    window.flows.close_document()
    qtbot.waitUntil(lambda: not session.runner.is_running() and not state.busy)
    assert state.document is None and target.read_bytes() == saved
    assert not journal.exists(), "the discarded journal was written again"
    assert _registered(window) == []


def test_closing_the_window_while_a_big_save_writes_closes_with_the_file_written(qtbot, window,
                                                                                dialogs, tmp_path):
    state, session = window.state, window.session
    target = _saved_folder_with_two_boxes(qtbot, window, dialogs, tmp_path)
    shown = [a["bbox"] for a in state.document.data["annotations"]]
    assert window.flows.save()
    assert state.busy and window.status_bar.dirty.text() == "Saving…"
    dialogs.question_answer = B.Save  # the default answer, if asked
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible())  # the close was not dropped
    assert _boxes(target) == shown  # nothing lost: the save finished, the file whole
    assert not session.sidecar_for(target).exists() and _registered(window) == []
