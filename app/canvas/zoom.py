"""Zoom for the canvas: wheel (under the cursor), keys (around the centre), fit and 100 %.

Mixed into CanvasWidget (a QGraphicsView); it keeps `_fit` (refit when the view resizes) and
tells box items the scale so handles and labels keep their size on screen.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QWheelEvent

MIN_ZOOM, MAX_ZOOM = 0.01, 64.0
WHEEL_STEP = 1.2  # zoom factor per wheel notch
KEY_STEP = 1.25  # zoom factor per Ctrl+= / Ctrl+-


class ZoomMixin:
    """Needs: _image_rect, _items, _pixmap_item, zoom_changed, _fit (set by CanvasWidget)."""

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_in(self) -> None:
        self._zoom_by(KEY_STEP)

    def zoom_out(self) -> None:
        self._zoom_by(1 / KEY_STEP)

    def zoom_fit(self) -> None:
        self._fit = True
        if not self._image_rect.isEmpty():
            self.fitInView(self._image_rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._zoom_updated()

    def zoom_actual(self) -> None:
        """100 %: one image pixel per screen pixel."""
        self._zoom_by(1.0 / max(self.zoom(), 1e-9))

    def _zoom_by(self, factor: float, at: QPoint | None = None) -> None:
        """Zoom by `factor`, keeping the image pixel under viewport point `at` (default: the
        centre) where it is, as far as the scroll range allows."""
        target = min(max(self.zoom() * factor, MIN_ZOOM), MAX_ZOOM)
        factor = target / max(self.zoom(), 1e-9)
        at = self.viewport().rect().center() if at is None else at
        anchor = self.mapToScene(at)
        self.scale(factor, factor)
        shift = self.mapFromScene(anchor) - at
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + shift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + shift.y())
        self._fit = False
        self._zoom_updated()

    def _zoom_updated(self) -> None:
        zoom = self.zoom()
        for item in self._items.values():
            item.set_view_scale(zoom)
        mode = Qt.TransformationMode.SmoothTransformation if zoom < 2 else Qt.TransformationMode.FastTransformation
        self._pixmap_item.setTransformationMode(mode)
        self.zoom_changed.emit(zoom)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self._zoom_by(WHEEL_STEP ** steps, event.position().toPoint())
        event.accept()

