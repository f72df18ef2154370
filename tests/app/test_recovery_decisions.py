"""Issue 16, third defect: accept/reject decisions on predictions survive a crash. They were written
beside the document only when it was saved, so after a crash and "Recover unsaved work?" the
recovered boxes came back (the journal replays them) but their accepted predictions showed again,
dashed on their own boxes and counted in Pred, and rejected ones came back too.

A "crash" is a window abandoned, never closed, with its journal flushed (what a kill -9 leaves:
test_recovery.py); the recovering window is a fresh one that loads the same checkpoint."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from app.model.accepting import clipped_xywh
from model_helpers import checkpoint, make_shapes, model_window, saved_shapes_with_model, wait_attention, wait_model  # noqa: F401
from test_recovery import crash
from workbench_helpers import close_window, make_window, open_and_wait, save_and_wait, wait_image


def _reopen_with_model_and_recover(qtbot, settings, tmp_path, dialogs, path):
    other = make_window(qtbot, settings, tmp_path, load_model=True)  # the same checkpoint loads at start
    wait_model(qtbot, other, settings.value("model/checkpoint"))
    dialogs.question_answer = QMessageBox.StandardButton.Yes
    asked = len(dialogs.texts("question"))
    with qtbot.waitSignals([other.session.opened, other.session.opened], timeout=10_000):
        other.session.open(str(path))  # opened, then re-opened with the recovered work
    assert any("Recover unsaved work?" in t for t in dialogs.texts("question")[asked:])
    wait_image(qtbot, other)
    wait_attention(qtbot, other)
    return other


@pytest.mark.parametrize("layout", ["saved-json", "plain-folder-compacted"])
def test_accepted_and_rejected_predictions_stay_decided_after_a_crash(qtbot, model_window, dialogs, settings,
                                                                      tmp_path, layout):
    window, state = model_window, model_window.state
    view, acceptor = state.model.prediction_view, state.model.acceptor
    folder = make_shapes(tmp_path / "shapes", 2)[0].parent
    open_and_wait(qtbot, window, folder)
    wait_attention(qtbot, window)
    target = folder / "annotations.json"
    if layout == "saved-json":
        dialogs.save_path = str(target)
        save_and_wait(qtbot, window)
    view.set_threshold(0.01)
    width, height = view.current_detections().image_size
    boxes = [d for d in view.visible_predictions() if clipped_xywh(d.box_xyxy, width, height) is not None]
    shown = [d for d in boxes if d.name == boxes[0].name]  # one class: no class-mapping question
    assert len(shown) >= 4  # predictions that make a box (some random-weight ones fall outside)
    accepted, rejected, undone, later = (d.query for d in shown[:4])
    assert acceptor.accept([accepted])
    view.select_query(rejected)
    acceptor.reject_selected()
    assert acceptor.accept([undone])
    state.undo_stack.undo()  # its annotation is gone: the prediction shows again
    if layout == "plain-folder-compacted":
        with qtbot.waitSignal(window.session.autosaved, timeout=5000):
            window.session.autosave()  # the journal is compacted into a snapshot: decisions too
    assert acceptor.accept([later])  # after the compaction
    before = [d.query for d in view.visible_predictions()]
    count_before = view.prediction_count(0)
    boxes_before = len(state.current_annotations())
    crash(window)

    other = _reopen_with_model_and_recover(qtbot, settings, tmp_path, dialogs, target if layout == "saved-json"
                                           else folder)
    try:
        again = other.state.model.prediction_view
        again.set_threshold(0.01)
        assert len(other.state.current_annotations()) == boxes_before
        left = [d.query for d in again.visible_predictions()]
        assert accepted not in left and later not in left and rejected not in left
        assert again.query_status(accepted) == "accepted" and again.query_status(later) == "accepted"
        assert again.query_status(rejected) == "rejected"
        assert undone in left and again.query_status(undone) == ""
        assert left == before and again.prediction_count(0) == count_before
        assert other.image_list.model.data(other.image_list.model.index(0, 2)) == str(count_before)
        # A box drawn after the recovery takes a fresh id: the undone prediction's old annotation
        # id never refers to it, so that prediction still shows.
        other.state.add_box([5, 5, 30, 30], other.state.current_annotations()[0]["category_id"])
        assert undone in [d.query for d in again.visible_predictions()]
    finally:
        close_window(other, dialogs)


def _reopen_with_model(qtbot, settings, tmp_path, path):
    """A fresh window (a new start, the same checkpoint) opens `path`; nothing is answered."""
    other = make_window(qtbot, settings, tmp_path, load_model=True)
    wait_model(qtbot, other, settings.value("model/checkpoint"))
    open_and_wait(qtbot, other, path)
    wait_attention(qtbot, other)
    return other


@pytest.mark.parametrize("end", ["crash", "crash-before-the-decisions-file", "close"])
def test_a_reject_survives_when_every_edit_is_undone_back_to_the_saved_file(qtbot, model_window, dialogs,
                                                                            settings, tmp_path, end):
    """The corner README listed as not handled: a reject made while other edits were unsaved, then
    every edit undone back to the saved state. The document is its file again (no question on
    close), the journal replays to the file (so recovery dropped it), and the decisions file was
    written only by Save: the reject was lost, after a crash and after a normal close alike.
    "crash-before-the-decisions-file": the kill lands after the undo, before anything else is
    written (the decisions file as it was before the undo)."""
    window, state = model_window, model_window.state
    view, acceptor = state.model.prediction_view, state.model.acceptor
    target = saved_shapes_with_model(qtbot, window, dialogs, tmp_path)
    folder = target.parent
    view.set_threshold(0.01)
    shown = [d.query for d in view.visible_predictions()]
    assert len(shown) >= 2
    rejected, kept = shown[0], shown[1]
    state.add_box([5, 5, 30, 30], state.edits.add_category("dog"))  # unsaved edits (2 undo steps)
    view.select_query(rejected)
    acceptor.reject_selected()
    assert view.query_status(rejected) == "rejected" and state.is_dirty()
    decisions = target.with_name(target.name + ".decisions")
    before_undo = decisions.read_bytes() if decisions.exists() else None
    while state.undo_stack.canUndo():
        state.undo_stack.undo()
    assert not state.is_dirty() and view.query_status(rejected) == "rejected"
    journal = target.with_name(target.name + ".journal")
    questions = len(dialogs.texts("question"))
    if end == "close":
        close_window(window, dialogs)
        assert len(dialogs.texts("question")) == questions  # nothing unsaved: nothing asked
    else:
        crash(window)
        assert journal.is_file()
        if end == "crash-before-the-decisions-file":
            if before_undo is None:
                decisions.unlink(missing_ok=True)
            else:
                decisions.write_bytes(before_undo)

    other = _reopen_with_model(qtbot, settings, tmp_path, target)
    try:
        # Nothing else to recover: no question, the reject is simply there.
        assert not any("Recover unsaved work?" in t for t in dialogs.texts("question")[questions:])
        assert not journal.exists() and not other.state.is_dirty()
        again = other.state.model.prediction_view
        again.set_threshold(0.01)
        assert again.query_status(rejected) == "rejected" and again.query_status(kept) == ""
        left = [d.query for d in again.visible_predictions()]
        assert rejected not in left and kept in left
        assert left == [q for q in shown if q != rejected]  # nothing else hidden, nothing twice
        assert other.state.document.categories == [] and other.state.document.annotations == []
    finally:
        close_window(other, dialogs)


def test_rejects_in_a_folder_never_saved_are_offered_after_a_crash(qtbot, model_window, dialogs, settings,
                                                                   tmp_path):
    """No file to keep them beside: a journal holding only decisions is offered for recovery, which
    brings them back; a reject taken back before the crash stays taken back."""
    window, state = model_window, model_window.state
    view, acceptor = state.model.prediction_view, state.model.acceptor
    folder = make_shapes(tmp_path / "shapes", 2)[0].parent
    open_and_wait(qtbot, window, folder)
    wait_attention(qtbot, window)
    view.set_threshold(0.01)
    shown = [d.query for d in view.visible_predictions()]
    rejected, taken_back = shown[0], shown[1]
    for query in (rejected, taken_back, taken_back):  # the second X on a rejected one un-rejects it
        view.select_query(query)
        acceptor.reject_selected()
    assert view.query_status(rejected) == "rejected" and view.query_status(taken_back) == ""
    assert not state.is_dirty()
    crash(window)

    other = _reopen_with_model_and_recover(qtbot, settings, tmp_path, dialogs, folder)
    try:
        again = other.state.model.prediction_view
        again.set_threshold(0.01)
        assert again.query_status(rejected) == "rejected" and again.query_status(taken_back) == ""
        assert [d.query for d in again.visible_predictions()] == [q for q in shown if q != rejected]
        assert other.state.document.annotations == [] and other.state.is_dirty()
    finally:
        close_window(other, dialogs)
