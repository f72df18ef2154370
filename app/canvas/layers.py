"""Overlay layers of the canvas.

The scene's coordinate system is the image's pixel grid (after EXIF orientation): the picture
sits at (0, 0) with scale 1, so an item placed at (x, y) in any layer covers image pixel (x, y)
at every zoom. Layers are empty parent items stacked by z value; clients add their own items as
children, e.g. a heatmap:

    item = QGraphicsPixmapItem(QPixmap.fromImage(heat), canvas.layer("heatmap"))
    item.setScale(image_width / heat.width())  # heat map cells -> image pixels
    item.setOpacity(0.5)
"""
from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsItem

# name -> z value. Higher is drawn on top. Box editing happens in "annotations".
STANDARD_LAYERS = {
    "image": 0.0,  # the picture itself
    "heatmap": 10.0,  # e.g. a query's cross-attention map, scaled to image pixels
    "predictions": 20.0,  # e.g. detector boxes, dashed, with scores
    "annotations": 30.0,  # the document's boxes (editable)
    "tools": 40.0,  # rubber band and crosshair while drawing
}


class LayerItem(QGraphicsItem):
    """An invisible parent for one layer's items; hide it to hide the whole layer."""

    def __init__(self, name: str, z: float):
        super().__init__()
        self.name = name
        self.setZValue(z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)

    def boundingRect(self) -> QRectF:
        return QRectF()

    def paint(self, painter, option, widget=None) -> None:
        pass  # ItemHasNoContents: never called

    def clear(self) -> None:
        """Remove every item of this layer."""
        scene = self.scene()
        for child in self.childItems():
            if scene is not None:
                scene.removeItem(child)
            else:
                child.setParentItem(None)
