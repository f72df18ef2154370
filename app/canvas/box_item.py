"""One annotation box on the canvas: class-coloured outline, class-name label, 8 resize handles.

Geometry is in scene coordinates, which are image pixels (see layers.py). The item only changes
its own picture while the mouse is down; on release it hands the final rectangles to
`commit(dict[annotation_id, QRectF])`, and the state turns that into one undoable edit.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneMouseEvent

from ..colors import text_color_on

HANDLE_PX = 8.0  # handle size on screen, at any zoom
MIN_SIZE = 1.0  # smallest box, in image pixels
# Handles clockwise from the top-left; each moves (left, top, right, bottom) edges.
_EDGES = ((1, 1, 0, 0), (0, 1, 0, 0), (0, 1, 1, 0), (0, 0, 1, 0),
          (0, 0, 1, 1), (0, 0, 0, 1), (1, 0, 0, 1), (1, 0, 0, 0))
_CURSORS = (Qt.CursorShape.SizeFDiagCursor, Qt.CursorShape.SizeVerCursor,
            Qt.CursorShape.SizeBDiagCursor, Qt.CursorShape.SizeHorCursor) * 2

Commit = Callable[[dict[int, QRectF]], None]
Preview = Callable[[QRectF | None], None]


def handle_points(rect: QRectF) -> list[QPointF]:
    c = rect.center()
    return [rect.topLeft(), QPointF(c.x(), rect.top()), rect.topRight(), QPointF(rect.right(), c.y()),
            rect.bottomRight(), QPointF(c.x(), rect.bottom()), rect.bottomLeft(),
            QPointF(rect.left(), c.y())]


def clamp_rect(rect: QRectF, bounds: QRectF) -> QRectF:
    """`rect` cut to `bounds` (an empty `bounds` means no limit)."""
    return rect if bounds.isEmpty() else rect.intersected(bounds)


class LabelItem(QGraphicsItem):
    """The class name in a filled tag above the box's top-left corner, constant size on screen."""

    def __init__(self, parent: "BoxItem"):
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._font = QFont()
        self._font.setPointSizeF(8.5)
        self._text = ""
        self._color = QColor("#ffffff")
        self._size = QRectF()
        self._inside = False  # drawn below the top edge when there is no room above

    def set_text(self, text: str, color: QColor) -> None:
        self.prepareGeometryChange()
        self._text, self._color = text, QColor(color)
        metrics = QFontMetricsF(self._font)
        self._size = QRectF(0, 0, metrics.horizontalAdvance(text) + 8, metrics.height() + 2)

    def set_inside(self, inside: bool) -> None:
        if inside != self._inside:
            self.prepareGeometryChange()
            self._inside = inside

    def height(self) -> float:
        return self._size.height()

    def boundingRect(self) -> QRectF:
        return self._size.translated(0, 0 if self._inside else -self._size.height())

    def paint(self, painter: QPainter, option, widget=None) -> None:
        rect = self.boundingRect()
        painter.fillRect(rect, self._color)
        painter.setFont(self._font)
        painter.setPen(text_color_on(self._color))
        painter.drawText(rect.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter, self._text)


class BoxItem(QGraphicsItem):
    """An editable box. `ann_id` is the COCO annotation id it shows."""

    def __init__(self, ann_id: int, rect: QRectF, color: QColor, label: str, bounds: QRectF,
                 commit: Commit, preview: Preview):
        super().__init__()
        self.ann_id = ann_id
        self._rect = QRectF(rect)
        self._color = QColor(color)
        self._bounds = QRectF(bounds)
        self._commit, self._preview = commit, preview
        self._scale = 1.0  # view pixels per image pixel
        self._hovered = False
        self._drag: tuple | None = None  # ("resize", handle, start) or ("move", press, starts)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        self.setZValue(-rect.width() * rect.height())  # small boxes stay clickable above big ones
        self._label_text = label
        self._label = LabelItem(self)
        self._label.set_text(label, self._color)
        self._place_label()

    # -- geometry -------------------------------------------------------------------------------
    def rect(self) -> QRectF:
        return QRectF(self._rect)

    def set_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(rect)
        self._place_label()

    def set_label_visible(self, visible: bool) -> None:
        self._label.setVisible(visible)

    def update_look(self, rect: QRectF, color: QColor, label: str) -> None:
        """Follow the document (after an edit, undo or class change)."""
        if rect != self._rect and self._drag is None:  # never fight the mouse mid-drag
            self.set_rect(rect)
            self.setZValue(-rect.width() * rect.height())
        if QColor(color) != self._color or label != self._label_text:
            self._color, self._label_text = QColor(color), label
            self._label.set_text(label, self._color)
            self.update()

    def label_text(self) -> str:
        return self._label_text

    def color(self) -> QColor:
        return QColor(self._color)

    def set_view_scale(self, scale: float) -> None:
        self.prepareGeometryChange()
        self._scale = max(scale, 1e-6)
        self._place_label()

    def _place_label(self) -> None:
        self._label.setPos(self._rect.topLeft())
        room_above = (self._rect.top() - self._bounds.top()) * self._scale
        self._label.set_inside(room_above < self._label.height())

    def _margin(self) -> float:
        return (HANDLE_PX / 2 + 2) / self._scale

    def boundingRect(self) -> QRectF:
        m = self._margin()
        return self._rect.adjusted(-m, -m, m, m)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.boundingRect())
        return path

    def handle_at(self, pos: QPointF) -> int | None:
        """Index of the handle under `pos` (scene coordinates), if the box is selected."""
        if not self.isSelected():
            return None
        reach = (HANDLE_PX / 2 + 2) / self._scale
        for i, p in enumerate(handle_points(self._rect)):
            if abs(pos.x() - p.x()) <= reach and abs(pos.y() - p.y()) <= reach:
                return i
        return None

    # -- painting -------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option, widget=None) -> None:
        pen = QPen(self._color, 2.5 if self.isSelected() else 2.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        fill = QColor(self._color)
        fill.setAlpha(60 if self.isSelected() else 30 if self._hovered else 0)
        painter.setBrush(QBrush(fill) if fill.alpha() else Qt.BrushStyle.NoBrush)
        painter.drawRect(self._rect)
        if self.isSelected():
            size = HANDLE_PX / self._scale
            handle_pen = QPen(self._color.darker(130), 1)
            handle_pen.setCosmetic(True)
            painter.setPen(handle_pen)
            painter.setBrush(QColor("#ffffff"))
            for p in handle_points(self._rect):
                painter.drawRect(QRectF(p.x() - size / 2, p.y() - size / 2, size, size))

    # -- mouse ----------------------------------------------------------------------------------
    def hoverEnterEvent(self, event) -> None:
        self._hovered = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self._hovered = False
        self.unsetCursor()
        self.update()

    def hoverMoveEvent(self, event) -> None:
        handle = self.handle_at(event.scenePos())
        if handle is not None:
            self.setCursor(_CURSORS[handle])
        elif self.isSelected():
            self.setCursor(Qt.CursorShape.SizeAllCursor)
        else:
            self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        handle = self.handle_at(event.scenePos())
        super().mousePressEvent(event)  # selection rules of Qt (Ctrl toggles)
        if handle is not None:
            self._drag = ("resize", handle, self.rect())
        else:
            selected = [i for i in self.scene().selectedItems() if isinstance(i, BoxItem)]
            self._drag = ("move", event.scenePos(), {i: i.rect() for i in selected or [self]})
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag is None:
            return
        if self._drag[0] == "resize":
            _, handle, start = self._drag
            self.set_rect(self._resized(start, handle, event.scenePos()))
            self._preview(self._rect)
        else:
            _, press, starts = self._drag
            delta = self._clamped_delta(event.scenePos() - press, starts.values())
            for item, start in starts.items():
                item.set_rect(start.translated(delta))
            self._preview(self._rect)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        drag, self._drag = self._drag, None
        super().mouseReleaseEvent(event)
        self._preview(None)
        if drag is None:
            return
        if drag[0] == "resize":
            changed = {self.ann_id: self.rect()} if self.rect() != drag[2] else {}
        else:
            changed = {i.ann_id: i.rect() for i, start in drag[2].items() if i.rect() != start}
        if changed:
            self._commit(changed)

    def _resized(self, start: QRectF, handle: int, pos: QPointF) -> QRectF:
        left, top, right, bottom = start.left(), start.top(), start.right(), start.bottom()
        move_l, move_t, move_r, move_b = _EDGES[handle]
        x, y = pos.x(), pos.y()
        if not self._bounds.isEmpty():
            x = min(max(x, self._bounds.left()), self._bounds.right())
            y = min(max(y, self._bounds.top()), self._bounds.bottom())
        if move_l:
            left = x
        if move_r:
            right = x
        if move_t:
            top = y
        if move_b:
            bottom = y
        rect = QRectF(QPointF(min(left, right), min(top, bottom)),
                      QPointF(max(left, right), max(top, bottom)))
        if rect.width() < MIN_SIZE:
            rect.setWidth(MIN_SIZE)
        if rect.height() < MIN_SIZE:
            rect.setHeight(MIN_SIZE)
        return rect

    def _clamped_delta(self, delta: QPointF, starts) -> QPointF:
        """`delta`, shortened so every moved box stays inside the image."""
        if self._bounds.isEmpty():
            return delta
        dx, dy = delta.x(), delta.y()
        b = self._bounds
        for r in starts:  # a box already outside may move back in, never further out
            lo_x, hi_x = b.left() - r.left(), b.right() - r.right()
            lo_y, hi_y = b.top() - r.top(), b.bottom() - r.bottom()
            dx = min(max(dx, min(lo_x, 0.0)), max(hi_x, 0.0))
            dy = min(max(dy, min(lo_y, 0.0)), max(hi_y, 0.0))
        return QPointF(dx, dy)
