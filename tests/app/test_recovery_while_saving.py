"""Issue 16, "nothing lost, proven": what the user does while a big document is being written on a
worker (a Save, or an autosave's compaction). Edits were refused then, but Undo, Redo and a reject
of a prediction were not:

- an undo during a big Save changed the document the worker was serialising: the file got the
  document from before the undo (or, caught in the middle, a mix), yet the save then marked the
  document after the undo as saved and restarted the journal on the file, so the undo was gone
  (no unsaved mark, nothing asked on close, nothing to recover after a crash);
- a reject during a big autosave was journalled before the compaction, whose header had taken the
  decisions before the reject: the compaction dropped it, and a crash before the next save or
  autosave lost it.

Now every change waits for the write: refused with "Saving…", as edits were (the first and third
tests failed before that; the second is a guard).

The document is "big" by `session.small_document = 0` (test_window_safety.py). A moment inside the
background write is reached without sleeping on the worker: the file on disk already rewritten
while the GUI thread has not yet processed the worker's answer (no events are processed while
waiting), or `state.busy_changed`, emitted as the write begins, before its worker runs. A "crash"
is a window abandoned with its journal flushed (test_recovery.py)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from model_helpers import checkpoint, make_shapes, model_window, saved_shapes_with_model, wait_attention  # noqa: F401
from test_recovery import crash, reopen_and_recover
from test_recovery_decisions import _reopen_with_model_and_recover
from workbench_helpers import close_window, folder_with_a_saved_box

WRITE_DEADLINE = 60.0  # seconds a worker may take to write a few boxes on a loaded machine


def _bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _until_rewritten(path: Path, old: bytes) -> None:
    """Block the GUI thread (no events processed, so the worker's answer stays queued) until the
    worker has replaced `path`."""
    deadline = time.monotonic() + WRITE_DEADLINE
    while _bytes(path) in (old, None):
        assert time.monotonic() < deadline, f"{path} was not rewritten"
        time.sleep(0.005)


def _saved_folder_with_two_boxes(qtbot, window, dialogs, tmp_path) -> Path:
    """A folder saved with one box, then a second box unsaved, the document treated as big."""
    folder, cat = folder_with_a_saved_box(qtbot, window, dialogs, tmp_path)
    window.session.small_document = 0  # big: saved and autosaved on a worker
    assert window.state.add_box([30, 30, 20, 20], cat) is not None
    return folder / "annotations.json"


def test_an_undo_while_a_big_save_writes_is_not_lost(qtbot, window, dialogs, tmp_path):
    state = window.state
    target = _saved_folder_with_two_boxes(qtbot, window, dialogs, tmp_path)
    old = target.read_bytes()
    messages: list[str] = []
    state.message.connect(messages.append)
    assert window.flows.save()
    assert state.busy and window.status_bar.dirty.text() == "Saving…"
    _until_rewritten(target, old)  # written; the window does not know yet
    window.actions["undo"].trigger()  # Ctrl+Z
    state.undo_stack.undo()  # (any other caller of the stack)
    qtbot.waitUntil(lambda: not window.session.is_saving() and not state.busy)
    shown = state.document.data["annotations"]
    on_disk = json.loads(target.read_text())["annotations"]
    # Clean means the file is all there is (closing asks nothing, the journal restarted on it).
    assert state.is_dirty() or on_disk == shown, (len(on_disk), len(shown))
    assert len(shown) == 2 and any("Saving" in m for m in messages)  # the undo waited for the save
    assert window.actions["undo"].isEnabled()
    window.actions["undo"].trigger()  # after the save, undo works again
    assert len(state.document.data["annotations"]) == 1 and state.is_dirty()


def test_an_undo_while_a_big_autosave_compacts_is_recovered_as_shown(qtbot, window, dialogs, settings,
                                                                     tmp_path):
    """The undo lands as the autosave begins, before its worker takes the snapshot. (A guard: this
    order gave a consistent journal before the fix too; one landing between the worker's snapshot
    and its queueing of the compaction, which a test cannot aim at, would have been lost.)"""
    state = window.state
    target = _saved_folder_with_two_boxes(qtbot, window, dialogs, tmp_path)
    state.add_box([60, 10, 10, 10], state.annotations(state.current_row)[0]["category_id"])

    def undo_as_it_begins(busy: bool) -> None:
        if busy:
            state.busy_changed.disconnect(undo_as_it_begins)
            window.actions["undo"].trigger()

    state.busy_changed.connect(undo_as_it_begins)
    with qtbot.waitSignal(window.session.autosaved, timeout=10_000):
        window.session.autosave()
    shown = [a["bbox"] for a in state.document.data["annotations"]]
    crash(window)
    other = reopen_and_recover(qtbot, settings, tmp_path, dialogs, target)
    try:
        assert [a["bbox"] for a in other.state.document.data["annotations"]] == shown
    finally:
        close_window(other, dialogs)


def test_a_reject_while_a_big_autosave_compacts_survives_a_crash(qtbot, model_window, dialogs, settings,
                                                                 tmp_path):
    """The reject (X) lands as the autosave begins: after it took the decisions for the compaction's
    header, before its worker queued the compaction. Whatever the window showed comes back."""
    window, state = model_window, model_window.state
    view, acceptor = state.model.prediction_view, state.model.acceptor
    target = saved_shapes_with_model(qtbot, window, dialogs, tmp_path)
    folder = target.parent
    state.add_box([5, 5, 30, 30], state.edits.add_category("dog"))  # unsaved: the autosave has work
    window.session.small_document = 0  # big: autosaved on a worker
    view.set_threshold(0.01)
    shown = [d.query for d in view.visible_predictions()]
    assert len(shown) >= 2
    during, after = shown[0], shown[1]
    messages: list[str] = []
    state.message.connect(messages.append)

    def reject_as_it_begins(busy: bool) -> None:
        if busy:
            state.busy_changed.disconnect(reject_as_it_begins)
            view.select_query(during)
            acceptor.reject_selected()

    state.busy_changed.connect(reject_as_it_begins)
    with qtbot.waitSignal(window.session.autosaved, timeout=10_000):
        window.session.autosave()
    seen = view.query_status(during)
    view.select_query(after)
    acceptor.reject_selected()  # the autosave is over: this one is journalled after it
    assert view.query_status(after) == "rejected"
    crash(window)

    other = _reopen_with_model_and_recover(qtbot, settings, tmp_path, dialogs, target)
    try:
        again = other.state.model.prediction_view
        again.set_threshold(0.01)
        assert again.query_status(during) == seen, seen  # what the window showed, not less
        assert again.query_status(after) == "rejected"
        assert len(other.state.current_annotations()) == 1
        assert seen == "" and any("Saving" in m for m in messages)  # refused while writing
    finally:
        close_window(other, dialogs)
