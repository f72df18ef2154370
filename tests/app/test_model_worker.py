"""The detector worker through the real window: the model loads at start and runs off the GUI
thread, superseded requests are dropped, results are cached per image, model and input size,
pre-annotation keeps predictions per image and stops when cancelled; bad checkpoints, devices
and images become messages while the previous model stays loaded."""
from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from model_helpers import checkpoint, make_shapes, model_window, wait_attention  # noqa: F401
from workbench_helpers import open_and_wait

PRED_COLUMN = 2


def pred_text(window, row: int) -> str:
    model = window.image_list.model
    return model.data(model.index(model.index_of_entry(row).row(), PRED_COLUMN)) or ""


def test_model_loads_at_start_and_detects_off_the_gui_thread(qtbot, model_window, tmp_path, checkpoint):
    window, model = model_window, model_window.state.model
    assert model.info.device == "cpu" and "3 classes" in model.info.description
    threads = []
    model.client.detected.connect(lambda result: threads.append(threading.current_thread()))
    worker_thread = model.client._thread  # noqa: SLF001 - only to prove where the model ran
    assert worker_thread is not window.thread()
    with qtbot.waitSignal(window.model_ui.predictions.drawn, timeout=20_000):
        open_and_wait(qtbot, window, make_shapes(tmp_path / "shapes", 2)[0].parent)
    wait_attention(qtbot, window)
    detections = model.current_detections()
    assert len(detections) == 20 and detections.attention.decoder.shape[0] == 20
    assert detections.attention.encoder is not None
    shown = int((detections.scores >= model.prediction_view.threshold).sum())
    assert len(window.model_ui.predictions.items()) == shown > 0
    assert pred_text(window, 0) == str(shown) and pred_text(window, 1) == ""
    assert "predictions at or above" in window.model_ui.panel.image_status.text()
    assert model.seconds_for(window.state.current_row) is not None and not model.running


def test_superseded_requests_are_dropped(qtbot, model_window, tmp_path, checkpoint):
    window, model = model_window, model_window.state.model
    paths = make_shapes(tmp_path / "shapes", 4)
    open_and_wait(qtbot, window, paths[0].parent)
    wait_attention(qtbot, window)
    dropped, detected = [], []
    model.client.dropped.connect(lambda request: dropped.append(request.path))
    model.client.detected.connect(lambda result: detected.append(result.request.path))
    # Keep the worker busy (reloading the checkpoint) while the user flips through three images.
    model.load(str(checkpoint))
    for row in (1, 2, 3):
        window.state.go_to(row)
    qtbot.waitUntil(lambda: str(paths[3]) in detected, timeout=20_000)
    wait_attention(qtbot, window)
    assert str(paths[1]) in dropped and str(paths[2]) in dropped
    assert str(paths[1]) not in detected and str(paths[2]) not in detected
    assert model.store.get(str(paths[1])) is None  # the model never ran on the skipped images
    assert window.state.current_row == 3 and not model.running


def test_results_are_cached_per_image_model_and_input_size(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    paths = make_shapes(tmp_path / "shapes", 2)
    open_and_wait(qtbot, window, paths[0].parent)
    wait_attention(qtbot, window)
    first = model.current_detections()
    window.state.go_to(1)
    wait_attention(qtbot, window)
    window.state.go_to(0)  # back: shown at once from the cache, no model run
    assert not model.running and model.current_detections() is first
    assert len(window.model_ui.predictions.items()) == int((first.scores >= model.prediction_view.threshold).sum())
    with qtbot.waitSignal(model.client.detected, timeout=20_000) as blocker:
        window.model_ui.panel.min_size.setValue(320)  # another input size: computed again
    assert blocker.args[0].resolution[0] == 320 and min(blocker.args[0].detections.input_size) == 320
    assert model.current_detections() is not first


def test_bad_checkpoint_keeps_the_previous_model(qtbot, model_window, tmp_path, checkpoint):
    window, model = model_window, model_window.state.model
    open_and_wait(qtbot, window, make_shapes(tmp_path / "shapes", 2)[0].parent)
    wait_attention(qtbot, window)
    messages = []
    window.state.message.connect(messages.append)
    before = model.info
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint")
    panel = window.model_ui.panel
    panel.set_source(str(junk))
    with qtbot.waitSignal(model.load_failed, timeout=20_000) as blocker:
        QTest.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    assert "junk.pth" in blocker.args[0] and "\n" not in blocker.args[0]
    assert messages and "junk.pth" in messages[-1]
    assert model.info is before and "junk.pth" in panel.notice.error_text()
    with qtbot.waitSignal(model.client.detected, timeout=20_000):  # still works
        QTest.keyClick(window, Qt.Key.Key_D)
    no_config = tmp_path / "not-a-model"
    no_config.mkdir()
    with qtbot.waitSignal(model.load_failed, timeout=20_000) as blocker:
        model.load(str(no_config))
    assert "config.json" in blocker.args[0] and model.info is before


def test_missing_device_is_reported_and_the_model_stays(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    open_and_wait(qtbot, window, make_shapes(tmp_path / "shapes", 2)[0].parent)
    wait_attention(qtbot, window)
    device = window.model_ui.panel.device
    cuda = device.model().item(device.findData("cuda"))
    if "cuda" not in model.info.device:
        assert not cuda.isEnabled()  # this machine has no GPU: not offered
    before = model.info
    with qtbot.waitSignal(model.load_failed, timeout=20_000) as blocker:
        model.set_device("cuda:7")
    assert "cuda:7" in blocker.args[0]
    assert model.info is before and model.info.device == before.device
    with qtbot.waitSignal(model.client.detected, timeout=20_000):
        window.state.go_to(1)


def test_image_that_fails_to_decode_is_a_message(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    folder = tmp_path / "mixed"
    make_shapes(folder, 1)
    (folder / "a_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    with qtbot.waitSignal(model.detection_failed, timeout=20_000) as blocker:
        with qtbot.waitSignal(window.session.opened, timeout=10_000):
            window.session.open(str(folder))
    assert "a_broken.png" in blocker.args[0]
    assert not model.running and model.info is not None
    window.state.go_to(1)
    wait_attention(qtbot, window)
    assert model.current_detections() is not None


def test_preannotation_keeps_predictions_per_image(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    folder = tmp_path / "batch"
    make_shapes(folder, 4)
    (folder / "shape9.png").write_bytes(b"not an image at all")
    open_and_wait(qtbot, window, folder)
    wait_attention(qtbot, window)
    messages = []
    window.state.message.connect(messages.append)
    with qtbot.waitSignal(model.batch_finished, timeout=30_000) as blocker:
        QTest.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    summary = blocker.args[0]
    assert not summary.cancelled and summary.total == 4 and summary.done == 4 and summary.failed == 1
    assert "shape9.png" in summary.first_error and "1 failed" in messages[-1]
    for row in range(4):
        assert model.store.get(window.state.entry(row).path) is not None
        assert pred_text(window, row) != ""
    assert pred_text(window, 4) == ""
    assert "Done: 4 of 4" in window.model_ui.panel.batch.detail.text()
    assert not model.batch_runner.start("all") and "already" in messages[-1]  # nothing left to do


def test_cancel_stops_a_batch(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    folder = tmp_path / "many"
    make_shapes(folder, 16, size=(320, 240))
    open_and_wait(qtbot, window, folder)
    wait_attention(qtbot, window)
    batch = window.model_ui.panel.batch
    with qtbot.waitSignal(model.batch_progressed, timeout=10_000,
                          check_params_cb=lambda progress: progress.done >= 1):
        QTest.mouseClick(batch.start_button, Qt.MouseButton.LeftButton)
    assert batch.cancel_button.isEnabled() and not batch.start_button.isEnabled()
    with qtbot.waitSignal(model.batch_finished, timeout=20_000) as blocker:
        QTest.mouseClick(batch.cancel_button, Qt.MouseButton.LeftButton)
    summary = blocker.args[0]
    assert summary.cancelled and 1 <= summary.done < summary.total == 15
    predicted = sum(model.store.get(window.state.entry(r).path) is not None for r in range(16))
    assert predicted == 1 + summary.done  # the image on screen, and the ones done before cancel
    assert not model.batch_runner.running and batch.start_button.isEnabled()
    assert "Cancelled" in batch.detail.text()


def test_a_batch_keeps_the_layout_and_redraws_list_rows_together(qtbot, model_window, tmp_path):
    """Showing the progress bar or a longer text must not resize the panel (that re-lays out every
    dock and repaints the whole window); a job's rows in the image list are redrawn together."""
    window, model = model_window, model_window.state.model
    open_and_wait(qtbot, window, make_shapes(tmp_path / "six", 6, size=(160, 120))[0].parent)
    wait_attention(qtbot, window)
    batch = window.model_ui.panel.batch
    size_before = batch.sizeHint()
    with qtbot.waitSignal(model.batch_finished, timeout=30_000):
        model.batch_runner.start("all")
    assert batch.progress.isVisible() and batch.sizeHint() == size_before
    batch._set_detail("a much longer line of text than any the panel showed before " * 3)  # noqa: SLF001
    assert batch.sizeHint() == size_before and batch.detail.toolTip().startswith("a much longer")

    list_model = window.image_list.model
    qtbot.wait(400)  # the job's last rows are redrawn
    changed = []
    list_model.dataChanged.connect(lambda first, last: changed.append((first.row(), last.row())))
    for row in (3, 1, 4):
        model.predictions_changed.emit(row)
    assert changed == []  # not one repaint per image...
    # ...but one for all of them: their rows (not those between), in one turn of the event loop
    # (up to ROWS_PER_PAINT rows a paint: test_model_browsing.py), so Qt paints them together
    qtbot.waitUntil(lambda: changed == [(1, 1), (3, 3), (4, 4)], timeout=2_000)
    model.predictions_changed.emit(window.state.current_row)
    assert changed[-1] == (window.state.current_row,) * 2  # the image on screen: at once
