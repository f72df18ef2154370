"""The model side's parts without a window or a model: the prediction view, the acceptor and the
decisions, driven through AppState and `state.model` with predictions put in its store (as the
detector thread's results are), then saved, and read again by a fresh state (a restart)."""
from __future__ import annotations

import numpy as np
import pytest

from app.model.decisions import sidecar_for
from app.document.opening import open_source
from app.model.model_state import ModelState
from app.state import AppState
from detr_core.infer.detections import Detections
from model_helpers import make_shapes

RESOLUTION = (800, 1333)


def state_with_model() -> AppState:
    """AppState with the model side composed over it, as MainWindow does (AppState builds neither)."""
    state = AppState()
    state.model = ModelState(state)
    return state


def shut_down(state: AppState) -> None:
    state.shutdown()
    state.model.shutdown()


def detections(scores) -> Detections:
    """Queries with boxes side by side on a 200x150 image; labels alternate circle / square."""
    Q = len(scores)
    boxes = np.array([[10 + 40 * q, 20, 40 + 40 * q, 60] for q in range(Q)], np.float32)
    return Detections(image_size=(200, 150), input_size=(200, 150), class_names=["circle", "square"],
                      labels=np.arange(Q) % 2, scores=np.asarray(scores, np.float32), boxes_xyxy=boxes,
                      logits=np.zeros((Q, 3), np.float32), boxes_cxcywh=np.zeros((Q, 4), np.float32))


@pytest.fixture
def opened(qtbot, tmp_path):
    """A fresh state with a folder of three images, each with predictions of model "w1"."""
    states = []

    def open_state(source) -> AppState:
        state = state_with_model()
        states.append(state)
        result = open_source(source)
        state.install(result.document, result.entries, result.root)
        for entry in state.entries:
            state.model.store.put(entry.path, "1:tiny.pth", RESOLUTION, detections([0.9, 0.8, 0.6, 0.3]),
                                  fingerprint="w1")
        return state

    make_shapes(tmp_path / "shapes", 3)
    yield open_state
    for state in states:
        shut_down(state)


def test_accept_and_reject_hide_predictions_and_say_which_image(opened, tmp_path):
    state = opened(tmp_path / "shapes")
    view, acceptor = state.model.prediction_view, state.model.acceptor
    changed = []
    state.model.predictions_changed.connect(changed.append)
    view.set_threshold(0.5)
    assert [d.query for d in view.visible_predictions()] == [0, 1, 2]
    ids = acceptor.accept([1])
    assert len(ids) == 1 and state.document.annotation(ids[0])["category_id"] is not None
    assert view.query_status(1) == "accepted" and [d.query for d in view.visible_predictions()] == [0, 2]
    assert view.selected_query == 0  # on to the best one left
    acceptor.reject_selected()
    assert view.query_status(0) == "rejected" and [d.query for d in view.visible_predictions()] == [2]
    assert changed == [0, 0] and state.model.prediction_count(0) == 1 and state.model.prediction_count(1) == 3
    state.undo_stack.undo()  # the accepted box goes: its prediction comes back
    assert view.query_status(1) == "" and [d.query for d in view.visible_predictions()] == [1, 2]


def test_decisions_survive_a_restart_for_the_same_weights_only(opened, tmp_path):
    state = opened(tmp_path / "shapes")
    view, acceptor = state.model.prediction_view, state.model.acceptor
    view.set_threshold(0.5)
    accepted = acceptor.accept([0])
    view.select_query(2)
    acceptor.reject_selected()
    state.go_to(1)
    view.select_query(1)
    acceptor.reject_selected()
    target = tmp_path / "shapes" / "annotations.json"
    state.document.save(target)
    state.model.save_decisions(str(target))  # what the session's `saved` does
    assert sidecar_for(target).is_file()

    again = opened(target)  # predictions of the same weights, from another load ("1:tiny.pth" again)
    view = again.model.prediction_view
    view.set_threshold(0.5)
    assert again.document.annotation(accepted[0]) is not None
    assert [view.query_status(q, row=0) for q in range(4)] == ["accepted", "", "rejected", ""]
    assert [view.query_status(q, row=1) for q in range(4)] == ["", "rejected", "", ""]
    assert [again.model.prediction_count(row) for row in range(3)] == [1, 2, 3]
    # Other weights (a fine-tuned model) predict afresh: nothing decided for them.
    path = again.entries[0].path
    again.model.store.put(path, "2:tuned.pth", RESOLUTION, detections([0.9, 0.8, 0.6, 0.3]), fingerprint="w2")
    assert [view.query_status(q, row=0) for q in range(4)] == ["", "", "", ""]
    # ... and the same weights at another input size predict other boxes: nothing decided either.
    again.model.store.put(path, "1:tiny.pth", (512, 853), detections([0.9, 0.8, 0.6, 0.3]), fingerprint="w1")
    assert again.model.prediction_count(0) == 3


def test_a_bad_decisions_file_is_reported_and_the_document_still_opens(opened, tmp_path):
    state = opened(tmp_path / "shapes")
    target = tmp_path / "shapes" / "annotations.json"
    state.document.save(target)
    sidecar_for(target).write_text("{ truncated")
    messages = []
    again = state_with_model()
    try:
        again.message.connect(messages.append)
        result = open_source(target)
        again.install(result.document, result.entries, result.root)
        assert again.row_count() == 3
        assert any(str(sidecar_for(target)) in m and "not applied" in m for m in messages)
    finally:
        shut_down(again)
