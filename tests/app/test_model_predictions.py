"""Predictions in the window: the threshold slider filters them live without running the model,
accepting turns them into ordinary undoable annotations saved in the COCO JSON, rejecting hides
them, and model classes map to dataset classes by name or through the mapping dialog."""
from __future__ import annotations

import pytest

import json

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.model.class_mapping import EXISTING, IGNORE, ClassChoice, settings_key
from app.model.class_mapping_dialog import ClassMappingDialog
from model_helpers import checkpoint, make_shapes, model_window, wait_attention, wait_model  # noqa: F401
from workbench_helpers import close_window, make_window, open_and_wait, save_and_wait, view_point


def open_shapes(qtbot, window, tmp_path, count: int = 1):
    paths = make_shapes(tmp_path / "shapes", count)
    open_and_wait(qtbot, window, paths[0].parent)
    wait_attention(qtbot, window)
    return paths


def test_slider_filters_live_without_running_the_model(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    open_shapes(qtbot, window, tmp_path)
    scores = model.current_detections().scores
    runs = []
    model.client.detected.connect(runs.append)
    model.client.dropped.connect(runs.append)
    slider, layer = window.model_ui.panel.threshold, window.model_ui.predictions
    for value in (1, 18, 21, 24, 100):
        slider.setValue(value)
        assert model.prediction_view.threshold == value / 100
        assert len(layer.items()) == int((scores >= value / 100).sum())
        assert window.image_list.model.data(window.image_list.model.index(0, 2)) == str(len(layer.items()))
    slider.setValue(1)
    QTest.keyClick(window, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)  # keyboard: +0.05
    assert abs(model.prediction_view.threshold - 0.06) < 1e-9 and slider.value() == 6
    qtbot.wait(50)
    assert runs == [] and not model.running  # filtering never asked the model again


def test_accept_turns_a_prediction_into_a_saved_annotation(qtbot, model_window, dialogs, tmp_path):
    window, model, state = model_window, model_window.state.model, model_window.state
    paths = open_shapes(qtbot, window, tmp_path)
    model.prediction_view.set_threshold(0.01)
    layer = window.model_ui.predictions
    shown = len(layer.items())
    # Click the smallest prediction (it is on top), then Enter with the canvas focused.
    item = min(layer.items().values(), key=lambda i: i.rect().width() * i.rect().height())
    prediction = item.detection
    window.canvas.setFocus()
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view_point(window, *_inside(item)))
    assert model.prediction_view.selected_query == prediction.query
    QTest.keyClick(window.canvas, Qt.Key.Key_Return)
    anns = state.current_annotations()
    assert len(anns) == 1 and state.category_name(anns[0]["category_id"]) == prediction.name
    x0, y0, x1, y1 = prediction.box_xyxy
    width, height = 200, 150
    expected = [max(x0, 0), max(y0, 0), min(x1, width) - max(x0, 0), min(y1, height) - max(y0, 0)]
    assert all(abs(a - b) < 0.02 for a, b in zip(anns[0]["bbox"], expected))
    assert state.status(0) == "edited" and len(layer.items()) == shown - 1
    assert prediction.query not in layer.items() and model.prediction_view.query_status(prediction.query) == "accepted"
    # Undo brings the prediction back; redo accepts it again.
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert state.current_annotations() == [] and prediction.query in layer.items()
    QTest.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert len(state.current_annotations()) == 1 and prediction.query not in layer.items()
    target = paths[0].parent / "annotations.json"
    dialogs.save_path = str(target)
    save_and_wait(qtbot, window)
    saved = json.loads(target.read_text())
    assert [c["name"] for c in saved["categories"]] == [prediction.name]
    assert len(saved["annotations"]) == 1 and saved["images"][0]["workbench_status"] == "edited"
    assert all(abs(a - b) < 0.02 for a, b in zip(saved["annotations"][0]["bbox"], expected))


def _inside(item) -> tuple[float, float]:
    """The centre of a prediction's box (for the smallest one, it is the topmost there)."""
    rect = item.rect()
    return rect.center().x(), rect.center().y()


def test_accept_all_is_one_undo_step_and_marks_the_image_predicted(qtbot, model_window, tmp_path):
    window, model, state = model_window, model_window.state.model, model_window.state
    open_shapes(qtbot, window, tmp_path)
    model.prediction_view.set_threshold(0.2)
    wanted = model.prediction_view.visible_predictions()
    assert wanted
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert len(state.current_annotations()) == len(wanted)
    assert state.status(0) == "predicted" and window.model_ui.predictions.items() == {}
    assert window.image_list.model.data(window.image_list.model.index(0, 2)) == "0"
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert state.current_annotations() == [] and state.status(0) == "unlabelled"
    assert len(window.model_ui.predictions.items()) == len(wanted)


def test_reject_hides_a_prediction_and_keys_walk_them(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    open_shapes(qtbot, window, tmp_path)
    model.prediction_view.set_threshold(0.01)
    layer = window.model_ui.predictions
    best = model.prediction_view.visible_predictions()[0].query
    QTest.keyClick(window, Qt.Key.Key_BracketRight)  # ]: the best prediction
    assert model.prediction_view.selected_query == best and layer.items()[best]._selected
    QTest.keyClick(window, Qt.Key.Key_X)
    assert best not in layer.items() and model.prediction_view.query_status(best) == "rejected"
    assert model.prediction_view.selected_query == model.prediction_view.visible_predictions()[0].query  # the next
    model.prediction_view.select_query(best)  # e.g. picked in the query list: X brings it back
    QTest.keyClick(window, Qt.Key.Key_X)
    assert best in layer.items() and model.prediction_view.query_status(best) == ""
    QTest.keyClick(window, Qt.Key.Key_P)  # hide / show every prediction
    assert not layer.layer.isVisible() and window.actions["toggle_predictions"].isChecked()
    QTest.keyClick(window, Qt.Key.Key_P)
    assert layer.layer.isVisible()


def test_double_click_accepts_and_enter_in_a_text_field_does_not(qtbot, model_window, tmp_path):
    window, model, state = model_window, model_window.state.model, model_window.state
    open_shapes(qtbot, window, tmp_path)
    model.prediction_view.set_threshold(0.01)
    item = min(window.model_ui.predictions.items().values(), key=lambda i: i.rect().width() * i.rect().height())
    model.prediction_view.select_query(item.detection.query)
    line = window.model_ui.panel.checkpoint.lineEdit()
    line.setFocus()
    qtbot.waitUntil(line.hasFocus)
    with qtbot.waitSignal(model.model_changed, timeout=20_000):  # Enter there (re)loads the model
        QTest.keyClick(line, Qt.Key.Key_Return)
    assert state.current_annotations() == []  # ... and accepts nothing
    wait_attention(qtbot, window)
    model.prediction_view.set_threshold(0.01)
    item = min(window.model_ui.predictions.items().values(), key=lambda i: i.rect().width() * i.rect().height())
    QTest.mouseDClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      view_point(window, *_inside(item)))
    assert len(state.current_annotations()) == 1


def test_classes_map_by_name_or_through_the_dialog(qtbot, model_window, tmp_path, settings):
    window, model, state = model_window, model_window.state.model, model_window.state
    open_shapes(qtbot, window, tmp_path)
    model.prediction_view.set_threshold(0.01)
    by_name: dict[str, list] = {}
    for d in model.prediction_view.visible_predictions():
        by_name.setdefault(d.name, []).append(d)
    assert len(by_name) >= 2, by_name  # this seeded model predicts two classes or more
    same, other = sorted(by_name)[:2]
    # The dataset already has classes: one is a model class in other letter case.
    state.edits.add_category(same.upper())
    state.edits.add_category("shape")
    # `same` -> its namesake: no dialog.
    ids = model.acceptor.accept([by_name[same][0].query])
    assert ids and state.category_name(state.document.annotation(ids[0])["category_id"]) == same.upper()
    assert window.findChild(ClassMappingDialog) is None
    # `other` has no namesake: the dialog asks; map it to "shape".
    assert model.acceptor.accept([by_name[other][0].query]) == []
    dialog = window.findChild(ClassMappingDialog)
    assert dialog is not None and dialog.isVisible() and list(dialog.combos) == [other]
    dialog.choose(other, ClassChoice(EXISTING, "shape"))
    dialog.accept()
    anns = state.current_annotations()
    assert [state.category_name(a["category_id"]) for a in anns] == [same.upper(), "shape"]
    # Remembered for this checkpoint: the next one goes to "shape" without asking.
    assert json.loads(settings.value(settings_key(model.info.source))) == {other: "existing:shape"}
    if len(by_name[other]) > 1:
        assert model.acceptor.accept([by_name[other][1].query])
        assert state.category_name(state.current_annotations()[-1]["category_id"]) == "shape"
    # Ignoring a class: its predictions are never accepted; cancelling the dialog adds nothing.
    model.acceptor.set_class_choices({other: ClassChoice(IGNORE)}, retry=False)
    left = [d for d in model.prediction_view.visible_predictions() if d.name == other]
    before = len(state.current_annotations())
    if left:
        assert model.acceptor.accept([left[0].query]) == [] and len(state.current_annotations()) == before
    assert model.acceptor.category_for(same) == state.document.category_by_name(same.upper())["id"]
    assert model.acceptor.category_for(other) is None


def test_prediction_click_does_not_steal_box_editing(qtbot, model_window, tmp_path):
    window, model, state = model_window, model_window.state.model, model_window.state
    open_shapes(qtbot, window, tmp_path)
    model.prediction_view.set_threshold(0.01)
    model.acceptor.accept_all()
    ann = state.current_annotations()[0]
    state.set_selection([])
    x, y, w, h = ann["bbox"]
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view_point(window, x + w / 2, y + h / 2))
    assert state.selection  # the annotation, above the predictions, got the click


@pytest.mark.slow
def test_decisions_are_kept_with_the_document_across_a_restart(qtbot, model_window, dialogs, settings, tmp_path):
    """Issue 16: an accepted prediction must not come back (dashed, on its own box, counted in
    Pred) after the file is saved and opened again in a new window; a rejected one stays
    rejected for the same model."""
    window, model, state = model_window, model_window.state.model, model_window.state
    paths = open_shapes(qtbot, window, tmp_path)
    model.prediction_view.set_threshold(0.01)
    shown = model.prediction_view.visible_predictions()
    assert len(shown) >= 4
    accepted, rejected, later = shown[0].query, shown[1].query, shown[2].query
    assert model.acceptor.accept([accepted])
    model.prediction_view.select_query(rejected)
    model.acceptor.reject_selected()
    target = paths[0].parent / "annotations.json"
    dialogs.save_path = str(target)
    save_and_wait(qtbot, window)
    model.prediction_view.select_query(later)  # rejected after saving: nothing else to save
    model.acceptor.reject_selected()
    assert not state.is_dirty()
    close_window(window, dialogs)

    again = make_window(qtbot, settings, tmp_path, load_model=True)  # the same checkpoint loads at start
    try:
        wait_model(qtbot, again, checkpoint_of(settings))
        open_and_wait(qtbot, again, target)
        wait_attention(qtbot, again)
        view = again.state.model.prediction_view
        view.set_threshold(0.01)
        left = [d.query for d in view.visible_predictions()]
        assert accepted not in left and rejected not in left and later not in left
        assert view.query_status(accepted) == "accepted" and view.query_status(rejected) == "rejected"
        assert view.query_status(later) == "rejected"
        assert accepted not in again.model_ui.predictions.items()
        assert again.image_list.model.data(again.image_list.model.index(0, 2)) == str(len(shown) - 3)
        # Deleting the accepted box brings its prediction back, as it does before a restart.
        again.state.set_selection([a["id"] for a in again.state.current_annotations()])
        again.actions["delete"].trigger()
        assert accepted in [d.query for d in view.visible_predictions()]
    finally:
        close_window(again, dialogs)


def checkpoint_of(settings):
    return settings.value("model/checkpoint")
