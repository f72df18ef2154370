"""The right-hand panels at 1366×768 (issue 17, items 3 and 6): the checkpoint field, its "…"
button (glyph and menu arrow) and Load get the width they need and the field shows its text whole (its
tooltip the whole path when it does not fit); the class list and the query table show at least
five rows; the query table's Class column holds the class names and its boxes are the ones drawn
(inside the image, never negative); image names are elided on the left, where they differ."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication, QStyle

from app.resources import demo_model
from app.window_layout import fit_to_screen
from model_helpers import model_settings, wait_attention, wait_model
from workbench_helpers import close_window, make_window, open_and_wait

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def rows_shown(view) -> int:
    """Whole rows the view's viewport has room for."""
    return view.viewport().height() // max(1, view.sizeHintForRow(0))


def at_1366(qtbot, window, tmp_path):
    """Open the samples in `window`, fitted to 1366×768 (before its model loaded, as at start)."""
    shutil.copytree(SAMPLES, tmp_path / "samples")
    open_and_wait(qtbot, window, tmp_path / "samples")
    wait_attention(qtbot, window)
    QApplication.processEvents()


@pytest.fixture
def demo_window(qtbot, settings, tmp_path, dialogs):
    """The bundled demo model loaded (its notice makes the Model panel scroll) on the samples."""
    model_settings(settings, demo_model())  # its low-score queries reach past the image's edges
    window = make_window(qtbot, settings, tmp_path, load_model=True)
    fit_to_screen(window, QRect(0, 0, 1366, 768))
    wait_model(qtbot, window, demo_model(), timeout=60_000)
    at_1366(qtbot, window, tmp_path)
    yield window
    close_window(window, dialogs)


def test_the_checkpoint_row_gets_the_width_it_asks_for(qtbot, demo_window, tmp_path):
    panel = demo_window.model_ui.panel
    panel.set_source(str(demo_model()))
    QApplication.processEvents()
    field, browse, load = panel.checkpoint, panel.browse_button, panel.load_button
    assert field.width() >= field.minimumSizeHint().width()
    style = browse.style()  # the glyph, the menu arrow beside it and the button's margin
    needed = (browse.fontMetrics().horizontalAdvance("…") + style.pixelMetric(
        QStyle.PixelMetric.PM_MenuButtonIndicator, None, browse) + style.pixelMetric(QStyle.PixelMetric.PM_ButtonMargin, None, browse))
    assert browse.width() >= max(needed, browse.sizeHint().width()), f"the '…' button is {browse.width()} px, needs {needed}"
    assert load.width() >= load.fontMetrics().horizontalAdvance("Load") + 8
    text = field.currentText()
    assert text == "Demo model (bundled)"
    line = field.lineEdit()
    assert line.fontMetrics().horizontalAdvance(text) <= line.contentsRect().width() - 4, \
        f"{text!r} does not fit its {line.contentsRect().width()} px field"
    assert line.cursorPositionAt(QPoint(3, line.height() // 2)) == 0, "the field's text is cut at the start"
    long_path = str(tmp_path / ("a-long-folder-name" * 4) / "fine-tuned-on-my-photos.pth")
    panel.set_source(long_path)
    assert field.toolTip() == long_path  # the field shows part of it: the tooltip the whole


def test_the_class_list_and_the_query_table_show_five_rows(qtbot, demo_window):
    window = demo_window
    classes = window.classes.tree
    window.docks.classes.raise_()
    qtbot.waitUntil(classes.isVisible, timeout=2000)
    assert classes.topLevelItemCount() == 5 and rows_shown(classes) >= 5
    window.model_ui.attention_dock.raise_()
    view = window.model_ui.attention.queries.view
    qtbot.waitUntil(view.isVisible, timeout=2000)
    QApplication.processEvents()
    assert view.model().rowCount() >= 5 and rows_shown(view) >= 5, f"{rows_shown(view)} rows shown"
    metrics = view.fontMetrics()
    for row in range(view.model().rowCount()):
        name = view.model().index(row, 1).data()
        assert metrics.horizontalAdvance(name) + 8 <= view.columnWidth(1), f"class {name!r} is cut"


def test_the_query_table_shows_the_boxes_as_drawn(qtbot, demo_window):
    window = demo_window
    window.model_ui.attention_dock.raise_()  # out of sight, the table waits to be filled
    qtbot.waitUntil(window.model_ui.attention.queries.on_screen, timeout=2000)
    detections = window.state.model.current_detections()
    width, height = detections.image_size
    boxes = detections.boxes_xyxy
    assert (boxes[:, :2] < 0).any() or (boxes[:, 2] > width).any() or (boxes[:, 3] > height).any(), \
        "this model's boxes all lie inside the image: nothing to clamp"
    model = window.model_ui.attention.queries.view.model()
    assert model.rowCount() == len(detections)
    for row in range(model.rowCount()):
        x, y, w, h = (float(v) for v in model.index(row, 3).data().split(","))
        assert min(x, y, w, h) >= 0 and x + w <= width + 0.5 and y + h <= height + 0.5, (x, y, w, h)


def test_image_names_are_elided_on_the_left(window):
    assert window.image_list.view.textElideMode() == Qt.TextElideMode.ElideLeft
