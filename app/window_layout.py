"""How the window fits a screen: every dock's panel sits in a scroll area, so a panel that needs
more room than its dock has scrolls instead of raising the window's minimum size (the window never
grows on its own when a panel gains a row, an error line or an attention grid); the first window
is sized to the screen it opens on, down to 1366×768, with the bottom docks given a share of it
and Attention and Review as tabs of the Classes dock.

    dock.setWidget(scrollable(panel))   # MainWindow.add_dock
    fit_to_screen(window)               # once, before a saved geometry is restored
"""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QStyle, QWidget

DEFAULT_SIZE = (1600, 1000)  # on a screen with room for it
TITLE_BAR = 40  # left for the window manager's frame above the window
TABBED_BELOW = 1200  # a shorter window shows these as tabs of the Classes dock:
TABBED_WITH_CLASSES = ("dock-attention", "dock-review")
BOTTOM_SHARE = 0.33  # of the window's height, for the Training / Compare docks
MAX_MIN_WIDTH = 360  # a panel wider than this at its minimum scrolls sideways in its dock
MODEL_SHARE = 0.6  # of the right-hand column's height: the Model panel, above it Classes
SIDE_WIDTHS = {Qt.DockWidgetArea.LeftDockWidgetArea: 260, Qt.DockWidgetArea.RightDockWidgetArea: 380}


def scrollable(panel: QWidget) -> QScrollArea:
    """`panel` in a frameless scroll area that follows its size and scrolls below its minimum."""
    area = QScrollArea()
    area.setObjectName(f"scroll-{panel.objectName() or type(panel).__name__}")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the panel's own widgets keep the tab order
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    area.setWidget(panel)
    bar = area.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)  # room for a vertical bar
    area.setMinimumWidth(min(panel.minimumSizeHint().width(), MAX_MIN_WIDTH) + bar)
    return area


def available_geometry(window: QWidget) -> QRect:
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fit_to_screen(window: QMainWindow, available: QRect | None = None) -> None:
    """Size `window` to DEFAULT_SIZE or the available screen, whichever is smaller, and share
    the height and width between the canvas and the docks in proportion."""
    avail = available or available_geometry(window)
    width = min(DEFAULT_SIZE[0], avail.width())
    height = min(DEFAULT_SIZE[1], avail.height() - TITLE_BAR)
    window.resize(width, height)
    docks = [d for d in window.findChildren(QDockWidget) if not d.isFloating() and not d.isHidden()]
    if height < TABBED_BELOW:
        for name in TABBED_WITH_CLASSES:
            _tabify_by_name(window, docks, "dock-classes", name)
    bottom = [d for d in docks if window.dockWidgetArea(d) == Qt.DockWidgetArea.BottomDockWidgetArea]
    if bottom:
        window.resizeDocks(bottom, [int(height * BOTTOM_SHARE)] * len(bottom), Qt.Orientation.Vertical)
    for area, side in SIDE_WIDTHS.items():
        column = [d for d in docks if window.dockWidgetArea(d) == area]
        if column:
            share = side if width >= 1200 else width // 4
            window.resizeDocks(column, [share] * len(column), Qt.Orientation.Horizontal)
    _share_right_column(window, docks, height)


def _share_right_column(window: QMainWindow, docks: list[QDockWidget], height: int) -> None:
    """MODEL_SHARE of the right-hand column for the Model dock, the rest for the Classes dock
    and its tabs (set before any model is loaded, whose description and notice make the panel
    taller): at 1366×768 the Model panel shows to its Detect row, the class list and the query
    table six rows or more."""
    named = {d.objectName(): d for d in docks}
    model, classes = named.get("dock-model"), named.get("dock-classes")
    if model is None or classes is None or window.dockWidgetArea(model) != window.dockWidgetArea(classes):
        return
    column = height - window.menuBar().sizeHint().height() - 2 * TITLE_BAR  # toolbar and status bar
    wanted = int(column * MODEL_SHARE)
    window.resizeDocks([classes, model], [column - wanted, wanted], Qt.Orientation.Vertical)


def _tabify_by_name(window: QMainWindow, docks: list[QDockWidget], first: str, second: str) -> None:
    named = {d.objectName(): d for d in docks}
    if first in named and second in named:
        window.tabifyDockWidget(named[first], named[second])
        named[first].raise_()
