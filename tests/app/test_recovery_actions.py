"""Issue 16, "nothing lost, proven": a crash recovers all of one user action or none of it. One
action can write several journal entries: a box moved, then its image marked edited; an undo of a
step of several commands; an accepted prediction: its box, its image's status, then its decision.
When each was a journal line of its own, a kill after the writer wrote the first ones and before
the rest recovered a state the user never saw: a moved box on an image still "reviewed", or an
accepted prediction shown again over its own box and counted in Pred.

Each test journals an action in a real window, then cuts the journal file inside that action's
bytes (at every line end there, and in the middle) as a kill would have left it, and recovers it
in a fresh window: what that window shows must be the state just before the action; the whole
journal, the state just after it. A "crash" is test_recovery.py's: a window abandoned, its journal
flushed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.model.accepting import clipped_xywh
from model_helpers import checkpoint, make_shapes, model_window, saved_shapes_with_model, wait_attention  # noqa: F401
from test_recovery import crash, reopen_and_recover
from test_recovery_decisions import _reopen_with_model_and_recover
from workbench_helpers import close_window, make_images, open_and_wait, save_and_wait


def cuts_inside(before: bytes, whole: bytes) -> list[int]:
    """Where a kill during the action's append could leave the journal: after each of its lines
    but the last, and half-way through; the action's bytes are `whole` after `before`."""
    assert whole.startswith(before) and len(whole) > len(before)  # no compaction in between
    action = whole[len(before):]
    ends = {len(before) + i + 1 for i, byte in enumerate(action[:-1]) if byte == ord("\n")}
    return sorted(ends | {len(before) + len(action) // 2})


def files_beside(folder: Path) -> dict[Path, bytes]:
    """The document's files (JSON, decisions...), not the images, and not the journal."""
    return {p: p.read_bytes() for p in folder.iterdir()
            if p.is_file() and p.suffix not in (".png", ".journal")}


def put_back(folder: Path, files: dict[Path, bytes]) -> None:
    for p in list(folder.iterdir()):
        if p.is_file() and p.suffix not in (".png", ".journal") and p not in files:
            p.unlink()
    for p, data in files.items():
        p.write_bytes(data)


def shown(window, queries=()) -> dict:
    """What the window shows of the document: its data, each image's box count and status, and,
    with a model, the predictions shown on the current image, its Pred count and `queries`' status."""
    state, rows = window.state, window.image_list.model
    seen = {"data": json.loads(json.dumps(state.document.data)),
            "list": [(rows.data(rows.index(r, 0)), rows.data(rows.index(r, 1)), state.status(r))
                     for r in range(rows.rowCount())]}
    if state.model is not None and state.model.info is not None:
        view = state.model.prediction_view
        view.set_threshold(0.01)
        seen["predictions"] = [d.query for d in view.visible_predictions()]
        seen["pred_column"] = rows.data(rows.index(0, 2))
        seen["decided"] = [view.query_status(q) for q in queries]
    return seen


def differences(seen: dict, expected: dict) -> dict:
    """What `seen` shows otherwise than `expected`: key -> (seen, expected); the data, named only."""
    return {key: ("differs",) if key == "data" else (seen.get(key), value)
            for key, value in expected.items() if seen.get(key) != value}


def recovered_states(reopen, journal: Path, before: bytes, whole: bytes, files, dialogs, queries=()):
    """[(cut, what a fresh window recovering the journal cut there shows)], the whole one last."""
    states = []
    for cut in cuts_inside(before, whole) + [len(whole)]:
        put_back(journal.parent, files)
        journal.write_bytes(whole[:cut])
        other = reopen()
        try:
            states.append((cut, shown(other, queries)))
        finally:
            close_window(other, dialogs)
    return states


def test_a_crash_inside_accepting_a_prediction_recovers_all_of_it_or_none(qtbot, model_window, dialogs,
                                                                         settings, tmp_path):
    """The accept writes its box, its image's "edited", then its decision: cut after the box, the
    recovered window showed the prediction again over its own box, counted in Pred."""
    window, state = model_window, model_window.state
    view, acceptor = state.model.prediction_view, state.model.acceptor
    target = saved_shapes_with_model(qtbot, window, dialogs, tmp_path)
    folder = target.parent
    view.set_threshold(0.01)
    width, height = view.current_detections().image_size
    boxes = [d for d in view.visible_predictions() if clipped_xywh(d.box_xyxy, width, height) is not None]
    same_class = [d.query for d in boxes if d.name == boxes[0].name]  # no class-mapping question
    assert len(same_class) >= 2
    earlier, accepted = same_class[:2]
    assert acceptor.accept([earlier])  # unsaved work before the action: recovery is offered
    journal = target.with_name(target.name + ".journal")
    crash(window)
    before_bytes, before = journal.read_bytes(), shown(window, [accepted])
    assert acceptor.accept([accepted])  # the action
    crash(window)
    whole, after = journal.read_bytes(), shown(window, [accepted])
    assert after["decided"] == ["accepted"] and accepted not in after["predictions"]
    assert before["decided"] == [""] and accepted in before["predictions"]

    states = recovered_states(
        lambda: _reopen_with_model_and_recover(qtbot, settings, tmp_path, dialogs, target),
        journal, before_bytes, whole, files_beside(folder), dialogs, [accepted])
    for cut, seen in states[:-1]:
        assert not differences(seen, before), f"journal cut at byte {cut} of {len(whole)}: part of the accept " \
            f"recovered; unlike before it: {differences(seen, before)}; unlike after: {differences(seen, after)}"
    assert not differences(states[-1][1], after)


def _first_box_then_reviewed(qtbot, window, tmp_path) -> tuple[Path, int]:
    """A plain folder; a box drawn on its first image (its COCO record made in the same step), the
    image marked reviewed. (the folder, the box's id)"""
    folder = tmp_path / "photos"
    make_images(folder, 2, size=(100, 80))
    open_and_wait(qtbot, window, folder)
    qtbot.wait(50)  # the autosave queued by showing the first image runs now, before the edits
    state = window.state
    box = state.add_box([5, 5, 30, 30], state.edits.add_category("cat"))
    state.mark_reviewed()
    assert state.status(0) == "reviewed"
    return folder, box


@pytest.mark.parametrize("action", ["move", "undo-move", "undo-first-box"])
def test_a_crash_inside_one_box_edit_recovers_all_of_it_or_none(qtbot, window, dialogs, settings, tmp_path,
                                                                action):
    """move: the box moved, then its image marked "edited"; cut between, the recovered image showed
    the moved box as still reviewed. undo-move: the box back, then "reviewed" back. undo-first-box:
    one undo step of two commands (the image's record, its first box) taken back: box, status,
    then the image's record."""
    state = window.state
    folder, box = _first_box_then_reviewed(qtbot, window, tmp_path)
    if action == "undo-move":
        state.set_bboxes({box: [40, 30, 20, 20]})
    elif action == "undo-first-box":
        state.undo_stack.undo()  # "reviewed" taken back: the first box is the step on top now
    journal = folder / "annotations.json.journal"
    crash(window)
    before_bytes, before = journal.read_bytes(), shown(window)
    if action == "move":
        state.set_bboxes({box: [40, 30, 20, 20]})
    else:
        state.undo_stack.undo()
    crash(window)
    whole, after = journal.read_bytes(), shown(window)
    assert after != before

    states = recovered_states(lambda: reopen_and_recover(qtbot, settings, tmp_path, dialogs, folder),
                              journal, before_bytes, whole, files_beside(folder), dialogs)
    for cut, seen in states[:-1]:
        assert not differences(seen, before), f"journal cut at byte {cut} of {len(whole)}: part of the {action} " \
            f"recovered; unlike before it: {differences(seen, before)}; unlike after: {differences(seen, after)}"
    assert not differences(states[-1][1], after)
