"""The attention heatmap on the canvas, in the "heatmap" layer (above the picture, below boxes).

Decoder mode shows the selected query's last-layer cross-attention; encoder mode shows where the
clicked image point attends (last encoder layer's self-attention). The picture is rendered at a
display size (heatmap_image.py) and scaled onto image pixels by the item's transform, so the map
lies exactly over the pixels its feature cells cover. In encoder mode a transparent item over
the image (its own layer, above the boxes) takes the clicks.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QImage, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsPixmapItem, QGraphicsRectItem

from .heatmap_image import image_transform, render_map

PICKER_LAYER, PICKER_Z = "attention-input", 35.0  # above "annotations" (30), below "tools" (40)


class PointPickerItem(QGraphicsRectItem):
    """Invisible, covers the image; a left click picks the point whose encoder attention shows."""

    def __init__(self, parent: QGraphicsItem, on_pick):
        super().__init__(parent)
        self._on_pick = on_pick
        self.setPen(QPen(Qt.PenStyle.NoPen))
        self.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self.setCursor(Qt.CursorShape.CrossCursor)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._on_pick(event.scenePos())
            event.accept()
        else:
            event.ignore()


class HeatmapLayer(QObject):
    rendered = Signal(object)  # the QImage now shown (None: hidden)

    def __init__(self, state, canvas, parent: QObject | None = None):
        super().__init__(parent)
        self.state, self.model = state, state.model
        self.item = QGraphicsPixmapItem(canvas.layer("heatmap"))
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.item.hide()
        layer = canvas.add_layer(PICKER_LAYER, PICKER_Z)
        self.picker = PointPickerItem(layer, self._on_picker_picked)
        self.picker.hide()
        self.marker = QGraphicsEllipseItem(QRectF(-6, -6, 12, 12), layer)
        self.marker.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.marker.setPen(QPen(QColor("#ffffff"), 2))
        self.marker.setBrush(QColor(0, 200, 255, 160))
        self.marker.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.marker.hide()
        self.picture: QImage | None = None
        self._key = None  # what the picture shows, to skip re-rendering
        self._maps = None
        m = self.model
        m.query_changed.connect(self.refresh)
        m.view_changed.connect(self.refresh)
        m.encoder_point_changed.connect(self.refresh)
        m.predictions_changed.connect(self._on_model_predictions_changed)
        state.current_changed.connect(self.refresh)
        state.image_loaded.connect(self._on_state_image_loaded)

    @Slot(int, QImage)
    def _on_state_image_loaded(self, row: int, picture: QImage) -> None:
        self.picker.setRect(QRectF(0, 0, picture.width(), picture.height()))
        self.refresh()

    @Slot(int)
    def _on_model_predictions_changed(self, row: int) -> None:
        if row in (-1, self.state.current_row):
            self.refresh()

    def _on_picker_picked(self, point: QPointF) -> None:
        self.model.prediction_view.set_encoder_point(point.x(), point.y())

    def _wanted(self):
        """(render key, maps, [h, w] map) for what should show, or None."""
        view, detections = self.model.prediction_view.view, self.model.current_detections()
        maps = detections.attention if detections is not None else None
        if not view.visible or maps is None:
            return None
        if view.mode == "encoder":
            point = self.model.prediction_view.encoder_point
            if point is None or maps.encoder is None:
                return None
            cell = maps.cell_at(*point)
            return (id(maps), "encoder", cell), maps, maps.encoder_at(*point)
        query = self.model.prediction_view.selected_query
        if not 0 <= query < len(maps.decoder):
            return None
        return (id(maps), "decoder", query), maps, maps.decoder[query]

    @Slot()
    def refresh(self) -> None:
        view = self.model.prediction_view.view
        encoder = view.mode == "encoder" and self.state.current_image is not None
        self.picker.setVisible(encoder)
        point = self.model.prediction_view.encoder_point
        self.marker.setVisible(encoder and point is not None and view.visible)
        if point is not None:
            self.marker.setPos(*point)
        wanted = self._wanted()
        if wanted is None:
            self.item.hide()
            self.picture, self._key, self._maps = None, None, None
            self.rendered.emit(None)
            return
        key, maps, attention_map = wanted
        key = (*key, view.colormap, view.smooth)
        if key != self._key:
            self.picture = render_map(maps, attention_map, view.colormap, view.smooth)
            self.item.setPixmap(QPixmap.fromImage(self.picture))
            self.item.setTransform(image_transform(self.picture, maps.image_size))
            self._key, self._maps = key, maps  # holding `maps` keeps its id() unique
        self.item.setOpacity(view.opacity)
        self.item.show()
        self.rendered.emit(self.picture)
