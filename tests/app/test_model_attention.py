"""Attention in the window: a query's cross-attention heatmap lies over the image pixels its
feature cell covers, the query list and the grid select queries, encoder mode shows where a
clicked point attends, and the view exports as a PNG."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from app.model.heatmap_image import color_table, display_size, to_indexed
from model_helpers import checkpoint, image_array, make_shapes, model_window, wait_attention  # noqa: F401
from workbench_helpers import open_and_wait, view_point

WIDTH, HEIGHT = 200, 150


def open_shapes(qtbot, window, tmp_path, count: int = 1):
    paths = make_shapes(tmp_path / "shapes", count, size=(WIDTH, HEIGHT))
    open_and_wait(qtbot, window, paths[0].parent)
    wait_attention(qtbot, window)
    return paths


def indices(picture: QImage) -> np.ndarray:
    """An Indexed8 picture's colour indices, [H, W]."""
    data = np.frombuffer(picture.constBits(), dtype=np.uint8, count=picture.sizeInBytes())
    return data.reshape(picture.height(), picture.bytesPerLine())[:, : picture.width()].copy()


def expected_indices(maps, attention_map) -> np.ndarray:
    picture = to_indexed(maps.upsample(attention_map, size=display_size(maps.image_size)))
    return indices(picture)


def rgb(color: int) -> tuple[int, int, int]:
    return (color >> 16) & 255, (color >> 8) & 255, color & 255


def test_heatmap_lies_over_the_right_image_pixels(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    open_shapes(qtbot, window, tmp_path)
    heatmap = window.model_ui.heatmap
    maps = model.current_detections().attention
    query = int(np.argmax(model.current_detections().scores))
    # Put all of this query's attention on one feature cell; where must it be drawn?
    h, w = maps.feature_size
    row, col = h // 2, w // 2
    maps.decoder[query] = 0.0
    maps.decoder[query, row, col] = 1.0
    sx, sy = maps.scale
    cell = QRectF(col * maps.stride * sx, row * maps.stride * sy, maps.stride * sx, maps.stride * sy)
    QTest.keyClick(window, Qt.Key.Key_P)  # predictions out of the way of the pixels
    model.prediction_view.set_view(smooth=False, opacity=1.0, colormap="inferno")
    model.prediction_view.select_query(query)
    picture, item = heatmap.picture, heatmap.item
    assert picture is not None and item.isVisible()
    assert item.sceneBoundingRect() == QRectF(0, 0, WIDTH, HEIGHT)  # covers the image exactly
    hot_y, hot_x = np.nonzero(indices(picture) == 255)
    top_left = item.sceneTransform().map(QPointF(hot_x.min(), hot_y.min()))
    bottom_right = item.sceneTransform().map(QPointF(hot_x.max() + 1, hot_y.max() + 1))
    drawn = QRectF(top_left, bottom_right)
    for a, b in ((drawn.left(), cell.left()), (drawn.top(), cell.top()),
                 (drawn.right(), cell.right()), (drawn.bottom(), cell.bottom())):
        assert abs(a - b) <= 1.0, (drawn, cell)
    # Pixels as exported (what is on screen, at image resolution): hottest colour over the
    # cell, coldest far from it.
    from app.model.export_view import render_view

    pixels = image_array(render_view(window.canvas))
    centre = pixels[int(cell.center().y()), int(cell.center().x())]
    far = pixels[2, 2]
    assert np.abs(centre.astype(int) - rgb(color_table("inferno")[255])).max() <= 2
    assert np.abs(far.astype(int) - rgb(color_table("inferno")[0])).max() <= 2
    # Smoothly upsampled, the peak stays inside the cell.
    model.prediction_view.set_view(smooth=True)
    peak_y, peak_x = np.unravel_index(np.argmax(indices(heatmap.picture)), indices(heatmap.picture).shape)
    assert cell.contains(item.sceneTransform().map(QPointF(peak_x + 0.5, peak_y + 0.5)))


def test_query_list_selects_any_query_and_sorts_by_score(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    open_shapes(qtbot, window, tmp_path)
    detections = model.current_detections()
    queries = window.model_ui.attention.queries
    order = queries.queries_in_view_order()
    assert len(order) == len(detections) == 20  # every query, not only those above the threshold
    assert [detections.scores[q] for q in order] == sorted(detections.scores, reverse=True)
    worst = order[-1]
    index = queries.proxy.index(len(order) - 1, 1)
    QTest.mouseClick(queries.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     queries.view.visualRect(index).center())
    assert model.prediction_view.selected_query == worst
    heat = window.model_ui.heatmap.picture
    assert np.array_equal(indices(heat), expected_indices(detections.attention, detections.attention.decoder[worst]))
    queries.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # by query number
    assert queries.queries_in_view_order() == list(range(20))
    model.prediction_view.set_view(colormap="viridis", opacity=0.3)
    assert window.model_ui.heatmap.picture.colorTable() == list(color_table("viridis"))
    assert abs(window.model_ui.heatmap.item.opacity() - 0.3) < 1e-6
    QTest.keyClick(window, Qt.Key.Key_M)  # heatmap off and on
    assert not window.model_ui.heatmap.item.isVisible()
    QTest.keyClick(window, Qt.Key.Key_M)
    assert window.model_ui.heatmap.item.isVisible()


def test_encoder_mode_shows_where_a_clicked_point_attends(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    open_shapes(qtbot, window, tmp_path)
    maps = model.current_detections().attention
    QTest.keyClick(window, Qt.Key.Key_E)
    assert model.prediction_view.view.mode == "encoder" and window.model_ui.attention.encoder_mode.isChecked()
    x, y = 150.0, 40.0
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view_point(window, x, y))
    px, py = model.prediction_view.encoder_point
    assert abs(px - x) <= 1.5 and abs(py - y) <= 1.5
    assert maps.cell_at(px, py) == maps.cell_at(x, y)
    heat = window.model_ui.heatmap.picture
    assert np.array_equal(indices(heat), expected_indices(maps, maps.encoder_at(x, y)))
    assert window.model_ui.heatmap.marker.isVisible()
    QTest.keyClick(window, Qt.Key.Key_E)
    assert model.prediction_view.view.mode == "decoder" and not window.model_ui.heatmap.picker.isVisible()


def test_attention_grid_shows_the_top_queries(qtbot, model_window, tmp_path):
    window, model = model_window, model_window.state.model
    open_shapes(qtbot, window, tmp_path)
    grid = window.model_ui.grid
    QTest.keyClick(window, Qt.Key.Key_G)
    qtbot.waitUntil(lambda: len(grid.tile_queries()) == model.prediction_view.view.topk, timeout=5_000)
    detections = model.current_detections()
    assert grid.tile_queries() == [d.query for d in detections.filter(0.0, topk=model.prediction_view.view.topk)]
    grid.topk.setValue(3)
    qtbot.waitUntil(lambda: len(grid.tile_queries()) == 3, timeout=5_000)
    tile = grid._tile_widgets()[1]  # noqa: SLF001 - the second tile, as the user sees it
    QTest.mouseClick(tile, Qt.MouseButton.LeftButton)
    assert model.prediction_view.selected_query == grid.tile_queries()[1]
    QTest.keyClick(window, Qt.Key.Key_G)
    assert not window.model_ui.grid_dock.isVisible()


def test_export_view_as_png(qtbot, model_window, dialogs, tmp_path):
    window, model = model_window, model_window.state.model
    open_shapes(qtbot, window, tmp_path)
    model.prediction_view.step_query(1)
    target = tmp_path / "out" / "view.png"
    target.parent.mkdir()
    dialogs.save_path = str(target)
    QTest.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    saved = QImage(str(target))
    assert not saved.isNull() and (saved.width(), saved.height()) == (WIDTH, HEIGHT)
    plain = image_array(QImage(str(tmp_path / "shapes" / "shape1.png")))
    assert np.abs(image_array(saved).astype(int) - plain).mean() > 5  # heatmap and boxes drawn
