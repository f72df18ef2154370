"""Zoom for the canvas: wheel (under the cursor), keys (around the centre), fit and 100 %.

`ZoomController` is owned by CanvasWidget (`canvas.zooming`). It keeps its own state — whether
the view fits the image (and refits when the view resizes) — and works only through the view's
public QGraphicsView API. After every change it calls `on_zoomed(zoom)`, where the canvas tells
its box items the scale (so handles and labels keep their size on screen) and emits
`zoom_changed`.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtWidgets import QGraphicsView

MIN_ZOOM, MAX_ZOOM = 0.01, 64.0
WHEEL_STEP = 1.2  # zoom factor per wheel notch
KEY_STEP = 1.25  # zoom factor per Ctrl+= / Ctrl+-


class ZoomController:
    def __init__(self, view: QGraphicsView, image_rect: Callable[[], QRectF],
                 on_zoomed: Callable[[float], None]):
        self.view = view
        self.image_rect = image_rect  # the picture in scene (image pixel) coordinates
        self.on_zoomed = on_zoomed
        self.fits = True  # the view shows the whole image, and keeps showing it on resize

    def zoom(self) -> float:
        """View pixels per image pixel."""
        return self.view.transform().m11()

    def zoom_in(self) -> None:
        self.zoom_by(KEY_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / KEY_STEP)

    def zoom_fit(self) -> None:
        self.fits = True
        rect = self.image_rect()
        if not rect.isEmpty():
            self.view.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self.on_zoomed(self.zoom())

    def zoom_actual(self) -> None:
        """100 %: one image pixel per screen pixel."""
        self.zoom_by(1.0 / max(self.zoom(), 1e-9))

    def zoom_by(self, factor: float, at: QPoint | None = None) -> None:
        """Zoom by `factor`, keeping the image pixel under viewport point `at` (default: the
        centre) where it is, as far as the scroll range allows."""
        view = self.view
        target = min(max(self.zoom() * factor, MIN_ZOOM), MAX_ZOOM)
        factor = target / max(self.zoom(), 1e-9)
        at = view.viewport().rect().center() if at is None else at
        anchor = view.mapToScene(at)
        view.scale(factor, factor)
        shift = view.mapFromScene(anchor) - at
        view.horizontalScrollBar().setValue(view.horizontalScrollBar().value() + shift.x())
        view.verticalScrollBar().setValue(view.verticalScrollBar().value() + shift.y())
        self.fits = False
        self.on_zoomed(self.zoom())

    def wheel(self, delta_y: int, at: QPoint) -> None:
        """A wheel turn of `delta_y` eighths of a degree (120 per notch) at viewport point `at`."""
        steps = delta_y / 120.0
        if steps:
            self.zoom_by(WHEEL_STEP ** steps, at)

    def refresh(self) -> None:
        """The image or the view changed: refit when fitting, else keep the scale."""
        if self.fits:
            self.zoom_fit()
        else:
            self.on_zoomed(self.zoom())
