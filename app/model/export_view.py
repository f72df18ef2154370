"""Export what the canvas shows over the image (picture, heatmap, predictions, boxes) as a PNG at
the image's own resolution (at most MAX_SIDE on the long side), whatever the zoom."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QWidget

MAX_SIDE = 4096


def render_view(canvas) -> QImage | None:
    """The scene over the image rectangle as an ARGB image (None without an image)."""
    source = canvas.image_rect()
    if source.isEmpty():
        return None
    scale = min(1.0, MAX_SIDE / max(source.width(), source.height()))
    image = QImage(max(1, round(source.width() * scale)), max(1, round(source.height() * scale)),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.black)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    canvas.scene().render(painter, QRectF(image.rect()), source)
    painter.end()
    return image


def export_view(parent: QWidget, canvas, state) -> str | None:
    """Ask where, write the PNG, say so in the status bar. Returns the path written."""
    image = render_view(canvas)
    if image is None:
        state.message.emit("No image to export.")
        return None
    entry = state.current_entry()
    suggested = f"{Path(entry.path).stem}-view.png" if entry else "view.png"
    start = str(state.root / suggested) if state.root else suggested
    path, _ = QFileDialog.getSaveFileName(parent, "Export view as PNG", start, "PNG (*.png)")
    if not path:
        return None
    if not path.lower().endswith(".png"):
        path += ".png"
    if not image.save(path, "PNG"):
        state.message.emit(f"{path}: cannot write the PNG (folder missing or not writable?)")
        return None
    state.message.emit(f"View saved to {path}")
    return path
