"""Flipping images with the model on, as issue 17 item 11 left it: the GUI thread is spared work
that nobody sees (a query table behind another tab, a dock laid out anew for a line of text, the
list header repainted for a row) and the model's thread yields the core to it. Each test checks
what the user sees: the right picture, the right queries once the table is in sight, panels that
keep their layout."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.image_list import ROWS_PER_PAINT
from app.model.export_view import render_view
from app.steady_label import SteadyLabelWidget
from app.thread_priority import WORKER_NICE
from model_helpers import checkpoint, image_array, make_shapes, model_window, wait_attention  # noqa: F401
from workbench_helpers import make_images, open_and_wait, thread_nice, thread_nice_of_main, wait_image


def open_shapes(qtbot, window, tmp_path, count: int):
    paths = make_shapes(tmp_path / "shapes", count)
    open_and_wait(qtbot, window, paths[0].parent)
    wait_attention(qtbot, window)
    return paths


def table_queries(queries) -> list[int]:
    """The query numbers in the table's rows as it shows them (column 0)."""
    model = queries.view.model()
    return [int(model.index(r, 0).data()) for r in range(model.rowCount())]


def best_first(detections) -> list[int]:
    return [int(q) for q in detections.query[np.argsort(-detections.scores, kind="stable")]]


def test_the_canvas_shows_the_last_of_many_quick_flips_pixel_for_pixel(qtbot, window, tmp_path):
    paths = make_images(tmp_path / "imgs", 6, size=(160, 120))
    open_and_wait(qtbot, window, paths[0].parent)
    state = window.state
    for _ in range(5):  # D pressed five times, faster than the decoder
        state.go_next(1)
    wait_image(qtbot, window)
    assert state.current_row == 5
    shown = image_array(render_view(window.canvas))
    assert np.array_equal(shown, np.asarray(Image.open(paths[5]).convert("RGB")))
    state.go_next(-1)  # back to a picture decoded (and cached) on the way
    wait_image(qtbot, window)
    assert np.array_equal(image_array(render_view(window.canvas)), np.asarray(Image.open(paths[4]).convert("RGB")))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_model_thread_runs_below_the_gui_threads_priority(qtbot, model_window, tmp_path):
    gui = thread_nice_of_main()
    open_shapes(qtbot, model_window, tmp_path, 1)
    assert thread_nice("detector") >= max(gui, WORKER_NICE)
    assert thread_nice_of_main() == gui


def test_a_query_table_out_of_sight_catches_up_when_its_tab_is_chosen(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    queries, dock = window.model_ui.attention.queries, window.model_ui.attention_dock
    open_shapes(qtbot, window, tmp_path, 3)
    window.docks.classes.raise_()  # the Attention dock behind the Classes tab, as at 1200x800
    qtbot.waitUntil(lambda: not queries.on_screen(), timeout=2000)
    for row in (1, 2, 1):  # flipped past while out of sight
        window.state.go_to(row)
        wait_attention(qtbot, window)
    dock.raise_()
    qtbot.waitUntil(queries.on_screen, timeout=2000)
    assert table_queries(queries) == best_first(model.current_detections())  # image 2's, not a stale list
    model.prediction_view.select_query(best_first(model.current_detections())[1])
    assert int(queries.view.currentIndex().siblingAtColumn(0).data()) == model.prediction_view.selected_query
    window.state.go_to(0)  # in sight: it follows at once
    wait_attention(qtbot, window)
    assert table_queries(queries) == best_first(model.current_detections())


def test_per_image_lines_leave_the_model_and_attention_panels_laid_out(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    panel, attention = window.model_ui.panel, window.model_ui.attention
    window.model_ui.attention_dock.raise_()
    open_shapes(qtbot, window, tmp_path, 2)
    QApplication.processEvents()
    table, line = attention.queries.geometry(), panel.image_status.geometry()
    hints = set()
    for row in (1, 0, 1):
        window.state.go_to(row)
        hints.add(attention.hint.text())  # before the model has seen it: a hint
        wait_attention(qtbot, window)
        model.prediction_view.select_query(int(model.current_detections().query[0]))  # no hint
        hints.add(attention.hint.text())
        QApplication.processEvents()
        assert "at or above" in panel.image_status.text()
        assert attention.queries.geometry() == table and panel.image_status.geometry() == line
    assert "" in hints and len(hints) >= 2  # the hint did change: shown, then gone


def test_a_steady_label_elides_what_does_not_fit_and_keeps_its_size(qtbot):
    label = SteadyLabelWidget(lines=2)
    qtbot.addWidget(label)
    label.resize(120, label.sizeHint().height())
    label.show()
    size = label.sizeHint()
    label.setText("short")
    assert label.toolTip() == "" and label.sizeHint() == size
    long = "a line of text much too long for two lines of a label one hundred and twenty pixels wide " * 2
    label.setText(long)
    assert label.text() == long and label.toolTip() == long and label.sizeHint() == size
    label.resize(4000, label.height())  # now it fits: no tooltip needed
    assert label.toolTip() == ""


def test_a_selected_image_leaves_the_list_header_alone_and_a_click_still_sorts(qtbot, window, tmp_path):
    paths = make_images(tmp_path / "imgs", 4)
    open_and_wait(qtbot, window, paths[0].parent)
    view, header = window.image_list.view, window.image_list.view.header()
    window.state.go_to(2)
    assert view.selectionModel().hasSelection() and not header.selectionModel().hasSelection()
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(header.sectionViewportPosition(0) + 5, header.height() // 2))
    assert header.sortIndicatorSection() == 0 and window.image_list.model.sorting == (0, False)
    assert window.image_list.visible_rows() == [0, 1, 2, 3]  # img1..img4 by name
    assert view.currentIndex().row() == 2 and window.state.current_row == 2  # the selection kept


def test_rows_pre_annotated_in_the_background_are_all_redrawn_a_few_at_a_time(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    paths = make_shapes(tmp_path / "shapes", 12)
    open_and_wait(qtbot, window, paths[0].parent)
    wait_attention(qtbot, window)
    redrawn: list[tuple[int, int]] = []
    window.image_list.model.dataChanged.connect(lambda top, bottom, *_: redrawn.append((top.row(), bottom.row())))
    with qtbot.waitSignal(model.batch_finished, timeout=60_000):
        assert model.batch_runner.start("all")
    others = set(range(1, 12))  # every image but the one on screen, whose row is redrawn at once
    qtbot.waitUntil(lambda: others <= {r for top, bottom in redrawn for r in range(top, bottom + 1)}, timeout=5000)
    assert max(bottom - top + 1 for top, bottom in redrawn) <= ROWS_PER_PAINT
    for row in others:  # and what they show is the model's count for each
        assert window.image_list.model.index(row, 2).data() == str(model.prediction_count(row))
