"""The window fits a 1366×768 screen (issue 17, item 1): a minimum size that fits, no two visible
panels drawn over each other or over the canvas, and no growth on its own when a panel gains
content (the attention grid, an error line, a long message)."""
from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QDockWidget

from app.window_layout import TITLE_BAR, fit_to_screen
from workbench_helpers import close_window, make_images, make_window, open_and_wait

SCREENS = [(1366, 768), (1920, 1080)]


def panel_rects(window) -> dict[str, QRect]:
    """Each docked panel on screen (not a tab behind another)'s rectangle in window coordinates, and the canvas's."""
    rects = {"canvas": QRect(window.centralWidget().mapTo(window, window.centralWidget().rect().topLeft()),
                             window.centralWidget().size())}
    for dock in window.findChildren(QDockWidget):
        panel = dock.widget()
        rect = QRect(panel.mapTo(window, panel.rect().topLeft()), panel.size())
        if dock.isVisible() and not dock.isFloating() and rect.intersects(window.rect()):  # a tab behind
            rects[dock.windowTitle()] = rect  # another is parked outside the window
    return rects


def assert_laid_out(window, width: int, height: int) -> None:
    QApplication.processEvents()
    assert (window.width(), window.height()) == (width, height), "the window grew past the screen"
    rects = panel_rects(window)
    assert {"canvas", "Images", "Model", "Training"} <= set(rects), sorted(rects)
    for name, rect in rects.items():
        assert window.rect().contains(rect), f"{name} {rect} is outside the window"
        assert rect.width() >= 150 and rect.height() >= 90, f"{name} is squeezed to {rect}"
    for (a, ra), (b, rb) in itertools.combinations(rects.items(), 2):
        assert not ra.intersects(rb), f"{a} {ra} overlaps {b} {rb}"


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_window_fits_the_screen_and_does_not_grow(qtbot, settings, tmp_path, dialogs, screen):
    width, height = screen
    window = make_window(qtbot, settings, tmp_path)
    try:
        hint = window.minimumSizeHint()
        assert hint.width() <= 1366 and hint.height() <= 768 - TITLE_BAR, f"minimum size {hint}"
        fit_to_screen(window, QRect(0, 0, width, height))
        fitted = (window.width(), window.height())
        assert fitted[0] <= width and fitted[1] <= height - TITLE_BAR
        assert_laid_out(window, *fitted)
        make_images(tmp_path / "photos", 2)
        open_and_wait(qtbot, window, tmp_path / "photos")
        window.actions["attention_grid"].trigger()  # a panel gains a grid of maps
        window.actions["encoder_mode"].trigger()
        window.state.message.emit("could not load /a/very/long/path/" + "x" * 400 + ".pth: not a checkpoint")
        qtbot.wait(50)
        assert_laid_out(window, *fitted)
        assert window.minimumSizeHint().height() <= 768 - TITLE_BAR
        window.resize(width, height - TITLE_BAR)
        assert_laid_out(window, width, height - TITLE_BAR)
    finally:
        close_window(window, dialogs)


def test_the_current_image_stays_in_view_after_a_resize(qtbot, window, tmp_path):
    make_images(tmp_path / "many", 60)
    open_and_wait(qtbot, window, tmp_path / "many")
    window.state.go_next(50)
    qtbot.waitUntil(lambda: window.state.current_row == 50, timeout=5000)
    view = window.image_list.view
    for size in [(1920, 1080), (1366, 728), (1100, 600)]:
        window.resize(*size)
        qtbot.wait(50)
        qtbot.waitUntil(lambda: view.viewport().rect().contains(view.visualRect(view.currentIndex())), timeout=2000)
