"""Drawing a box on the canvas: the select / draw mode, the rubber band and the crosshair guides.

`DrawTool` is owned by CanvasWidget (`canvas.drawing`) and keeps its own state: the mode, and
the corner a drag started from. The canvas feeds it scene points from its mouse events and hears
back through two callbacks: the mode changed, and the size of the box being drawn (-1, -1: none).
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsLineItem, QGraphicsRectItem, QGraphicsView

MIN_DRAWN = 2.0  # a drawn box smaller than this (image px) is treated as a stray click
SELECT, DRAW = "select", "draw"


def clamp(p: QPointF, r: QRectF) -> QPointF:
    """`p` moved to the nearest point of `r`."""
    return QPointF(min(max(p.x(), r.left()), r.right()), min(max(p.y(), r.top()), r.bottom()))


class DrawTool:
    def __init__(self, view: QGraphicsView, layer: QGraphicsItem, image_rect: Callable[[], QRectF],
                 on_mode_changed: Callable[[str], None], on_size: Callable[[float, float], None]):
        self.view = view
        self.image_rect = image_rect
        self.on_mode_changed = on_mode_changed
        self.on_size = on_size
        self.mode = SELECT
        self.start: QPointF | None = None  # the corner a drag started from (image px)
        pen = QPen(QColor("#ffffff"), 1, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.rubber = QGraphicsRectItem(layer)
        self.rubber.setPen(pen)
        self.rubber.setBrush(QColor(255, 255, 255, 40))
        self.rubber.hide()
        guide = QPen(QColor(255, 255, 255, 150), 1, Qt.PenStyle.DotLine)
        guide.setCosmetic(True)
        self.guides = (QGraphicsLineItem(layer), QGraphicsLineItem(layer))
        for line in self.guides:
            line.setPen(guide)
            line.hide()

    def cursor(self) -> Qt.CursorShape:
        """The viewport cursor of the mode (when not panning)."""
        return Qt.CursorShape.CrossCursor if self.mode == DRAW else Qt.CursorShape.ArrowCursor

    def set_mode(self, mode: str) -> None:
        if mode != self.mode:
            self.mode = mode
            drawing = mode == DRAW
            self.view.setDragMode(QGraphicsView.DragMode.NoDrag if drawing else QGraphicsView.DragMode.RubberBandDrag)
            self.view.viewport().setCursor(self.cursor())
            for line in self.guides:
                line.setVisible(drawing)
            self.on_mode_changed(mode)

    def end(self) -> None:
        """Back to select mode; a drag in progress is dropped."""
        self.start = None
        self.rubber.hide()
        self.set_mode(SELECT)
        self.on_size(-1.0, -1.0)

    def press(self, scene_pos: QPointF) -> bool:
        """A left press: start a box when in draw mode over an image. True if it did."""
        rect = self.image_rect()
        if self.mode != DRAW or rect.isEmpty():
            return False
        self.start = clamp(scene_pos, rect)
        self.rubber.setRect(QRectF(self.start, self.start))
        self.rubber.show()
        return True

    def move(self, scene_pos: QPointF) -> bool:
        """The mouse moved: follow it with the guides and the box. True while dragging a box."""
        rect = self.image_rect()
        p = clamp(scene_pos, rect)
        if self.mode == DRAW:
            self.guides[0].setLine(rect.left(), p.y(), rect.right(), p.y())
            self.guides[1].setLine(p.x(), rect.top(), p.x(), rect.bottom())
        if self.start is None:
            return False
        box = QRectF(self.start, p).normalized()
        self.rubber.setRect(box)
        self.on_size(box.width(), box.height())
        return True

    def release(self, scene_pos: QPointF) -> QRectF | None:
        """The left button came up: the box drawn (shown until `end`), or None for a stray
        click (still in draw mode) or when no drag was going on."""
        if self.start is None:
            return None
        box = QRectF(self.start, clamp(scene_pos, self.image_rect())).normalized()
        self.start = None
        if box.width() < MIN_DRAWN or box.height() < MIN_DRAWN:
            self.rubber.hide()
            return None
        self.rubber.setRect(box)
        return box
