"""A new user's first hour with the Model dock (issue 17, items 2-5): the offline message for the
official weights is whole and copyable and leaves the loaded model's description alone; the demo
model says it only knows synthetic shapes; choosing a checkpoint from the list loads it; the
prediction count and the time follow the threshold and the image on screen."""
from __future__ import annotations

import json
import urllib.error

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest

from app.model.model_state import DEMO_MODEL
from model_helpers import checkpoint, make_checkpoint, make_shapes, model_settings, model_window, wait_attention, wait_model  # noqa: F401
from workbench_helpers import close_window, make_window, open_and_wait


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, and an empty torch hub folder: the official weights cannot be fetched."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)

    def no_network(url, dst, *args, **kwargs):
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "torch-home"


def test_offline_message_is_whole_copyable_and_leaves_the_model_alone(qtbot, model_window, offline, checkpoint):
    window, model = model_window, model_window.state.model
    panel, dock = window.model_ui.panel, window.model_ui.model_dock
    window.resize(1366, 728)
    before = panel.status.text()
    panel.set_source("detr-r50")
    with qtbot.waitSignal(model.load_failed, timeout=20_000):
        panel.load_button.click()
    qtbot.waitUntil(lambda: not model.loading, timeout=5000)
    shown = panel.notice.error_text()
    assert "https://dl.fbaipublicfiles.com/detr/detr-r50" in shown and str(offline) in shown
    assert shown.endswith(".pth")  # nothing cut off at the end
    assert panel.status.text() == before and "#d93025" not in panel.status.styleSheet()
    assert model.info.source == str(checkpoint)  # the model in use stays
    qtbot.wait(50)
    area = dock.widget()
    assert not area.horizontalScrollBar().isVisible(), \
        f"the message widens the panel: {panel.minimumSizeHint()} in {area.viewport().size()}"
    message = window.status_bar.currentMessage()  # one line that fits, pointing to the whole
    assert message.startswith("detr-r50 is not downloaded") and "Model panel" in message
    panel.notice.copy_button.click()
    assert QGuiApplication.clipboard().text() == model.error == shown


def test_choosing_a_checkpoint_from_the_list_loads_it(qtbot, settings, tmp_path, dialogs, checkpoint):
    other = make_checkpoint(tmp_path / "other.pth", seed=1)
    model_settings(settings, checkpoint)
    settings.setValue("model/recent", [str(other), str(checkpoint)])
    window = make_window(qtbot, settings, tmp_path, load_model=True)
    try:
        wait_model(qtbot, window, checkpoint)
        combo = window.model_ui.panel.checkpoint
        combo.setFocus()
        for _ in range(combo.count()):
            if combo.currentData() == str(other):
                break
            QTest.keyClick(combo, Qt.Key.Key_Up)
        assert combo.currentData() == str(other)
        wait_model(qtbot, window, other)  # no Load press
    finally:
        close_window(window, dialogs)


def test_count_and_time_follow_the_threshold_and_the_image(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    panel, state = window.model_ui.panel, window.state
    open_and_wait(qtbot, window, make_shapes(tmp_path / "shapes", 2)[0].parent)
    wait_attention(qtbot, window)
    first = model.seconds_for(0)
    state.go_next(1)
    wait_attention(qtbot, window)
    second = model.seconds_for(1)
    assert f"· {second:.2f} s" in panel.image_status.text()
    state.go_next(-1)
    qtbot.waitUntil(lambda: f"· {first:.2f} s" in panel.image_status.text(), timeout=5000)
    for action in ("raise_threshold", "raise_threshold", "lower_threshold"):
        window.actions[action].trigger()
        threshold = model.prediction_view.threshold
        count = model.prediction_count(0)
        assert f"{count} prediction{'s' if count != 1 else ''} at or above {threshold:.2f}" in panel.image_status.text()


@pytest.mark.skipif(not DEMO_MODEL.is_file(), reason="the bundled demo model is not in this checkout")
def test_the_demo_model_says_what_it_knows_and_offers_a_real_model(qtbot, settings, tmp_path, dialogs, offline):
    settings.setValue("model/device", "cpu")
    settings.setValue("model/threads", 1)
    window = make_window(qtbot, settings, tmp_path, load_model=True)  # a first start: the demo model loads
    try:
        wait_model(qtbot, window, DEMO_MODEL, timeout=40_000)
        notice = window.model_ui.panel.notice
        assert "only knows synthetic shapes" in notice.demo_text() and "detr-r50" in notice.demo_text()
        assert "None of its classes" not in notice.demo_text()  # nothing open yet
        photos = tmp_path / "photos"
        make_shapes(photos, 1)
        doc = {"images": [{"id": 1, "file_name": "shape1.png", "width": 200, "height": 150}],
               "annotations": [], "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}
        (photos / "annotations.json").write_text(json.dumps(doc))
        open_and_wait(qtbot, window, photos / "annotations.json")
        qtbot.waitUntil(lambda: "None of its classes occur in this file" in notice.demo_text(), timeout=5000)
        with qtbot.waitSignal(window.state.model.load_failed, timeout=20_000):
            notice.use_official.click()
        assert "detr-r50" in notice.error_text()
        assert "only knows synthetic shapes" in notice.demo_text()  # the demo model is still the one in use
        assert window.state.model.info.description in window.model_ui.panel.status.text()
    finally:
        close_window(window, dialogs)

