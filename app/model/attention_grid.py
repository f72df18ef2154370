"""The attention grid: the top-k queries of the image on screen, each as its decoder
cross-attention map above the image with that query's box, as the official DETR notebook draws
them. Clicking a tile selects the query. Rendered only while the dock is visible."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSpinBox, QVBoxLayout,
                               QWidget)

from .heatmap_image import render_map

MIN_TILE, MAX_TILE = 80, 320  # tile width: as large as the dock's height allows
CAPTION_HEIGHT = 18


def tile_width(available_height: int, image_size: tuple[int, int]) -> int:
    """The widest tile whose map + picture + caption fit `available_height`."""
    picture_height = max(1, (available_height - CAPTION_HEIGHT) // 2)
    return int(min(max(picture_height * image_size[0] / image_size[1], MIN_TILE), MAX_TILE))


def compose_tile(picture: QImage, heat: QImage, box_xyxy, image_size, caption: str, color: QColor,
                 selected: bool, width: int) -> QPixmap:
    """Map on top, image with the box below, caption at the bottom."""
    height = round(width * image_size[1] / image_size[0])
    tile = QPixmap(width, 2 * height + CAPTION_HEIGHT)
    tile.fill(QColor("#1e1f22"))
    painter = QPainter(tile)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawImage(QRectF(0, 0, width, height), heat)
    painter.drawImage(QRectF(0, height, width, height), picture)
    scale = width / image_size[0]
    x0, y0, x1, y1 = (v * scale for v in box_xyxy)
    painter.setPen(QPen(color, 2))
    painter.drawRect(QRectF(x0, height + y0, x1 - x0, y1 - y0))
    painter.setPen(QColor("#e8eaed"))
    painter.drawText(QRectF(4, 2 * height, width - 8, CAPTION_HEIGHT), Qt.AlignmentFlag.AlignVCenter, caption)
    if selected:
        painter.setPen(QPen(QColor("#4da3ff"), 3))
        painter.drawRect(QRectF(1.5, 1.5, width - 3, 2 * height + CAPTION_HEIGHT - 3))
    painter.end()
    return tile


class QueryTileWidget(QLabel):
    clicked = Signal(int)  # query

    def __init__(self, query: int, pixmap: QPixmap, parent=None):
        super().__init__(parent)
        self.query = query
        self.setPixmap(pixmap)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.query)


class AttentionGridWidget(QWidget):
    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state, self.model_state = state, state.model
        self.topk = QSpinBox()
        self.topk.setRange(1, 24)
        self.topk.setValue(self.model_state.prediction_view.view.topk)
        self.topk.setPrefix("Top ")
        self.topk.setSuffix(" queries")
        self.topk.valueChanged.connect(lambda k: self.model_state.prediction_view.set_view(topk=k))
        export = QPushButton("Export grid PNG…")
        export.clicked.connect(self.export_png)
        self.notice = QLabel()
        self.notice.setStyleSheet("color: palette(mid);")
        self.tiles_host = QWidget()
        self.tiles = QHBoxLayout(self.tiles_host)
        self.tiles.setContentsMargins(4, 4, 4, 4)
        self.tiles.addStretch(1)
        scroll = self.scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.tiles_host)
        bar = QHBoxLayout()
        bar.addWidget(self.topk)
        bar.addWidget(self.notice, 1)
        bar.addWidget(export)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(scroll, 1)
        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self.refresh)
        self._thumb: tuple[tuple, QImage] | None = None  # ((picture cacheKey, width), thumbnail)
        m = self.model_state
        for signal in (m.query_changed, m.view_changed, state.current_changed, state.image_loaded):
            signal.connect(self._schedule)
        m.predictions_changed.connect(lambda row: row in (-1, state.current_row) and self._schedule())

    @Slot()
    def _schedule(self, *_args) -> None:
        self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._schedule()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._schedule()

    def tile_queries(self) -> list[int]:
        return [w.query for w in self._tile_widgets()]

    def _tile_widgets(self) -> list[QueryTileWidget]:
        return [self.tiles.itemAt(i).widget() for i in range(self.tiles.count())
                if isinstance(self.tiles.itemAt(i).widget(), QueryTileWidget)]

    @Slot()
    def refresh(self) -> None:
        if not self.isVisible():
            return
        for widget in self._tile_widgets():
            self.tiles.removeWidget(widget)
            widget.deleteLater()
        m, picture = self.model_state, self.state.current_image
        detections = m.current_detections()
        maps = detections.attention if detections is not None else None
        if picture is None or maps is None:
            self.notice.setText("No attention for this image yet." if m.info else "No model loaded.")
            return
        self.notice.setText("Click a tile to select its query.")
        margins = self.tiles.contentsMargins()
        available = self.scroll.viewport().height() - margins.top() - margins.bottom()
        width = tile_width(available, detections.image_size)
        thumb = self._thumbnail(picture, width)
        view, selected = m.prediction_view.view, m.prediction_view.selected_query
        for position, d in enumerate(detections.filter(0.0, topk=view.topk)):
            heat = render_map(maps, maps.decoder[d.query], view.colormap, view.smooth, max_side=width)
            category = m.acceptor.category_for(d.name)
            color = self.state.category_color(category) if category is not None else QColor("#f5f5f5")
            pixmap = compose_tile(thumb, heat, d.box_xyxy, detections.image_size,
                                  f"q{d.query}  {d.name}  {d.score:.2f}", color, d.query == selected, width)
            tile = QueryTileWidget(d.query, pixmap)
            tile.clicked.connect(m.prediction_view.select_query)
            self.tiles.insertWidget(position, tile)

    def _thumbnail(self, picture: QImage, width: int) -> QImage:
        if self._thumb is None or self._thumb[0] != (picture.cacheKey(), width):
            small = picture.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
            self._thumb = ((picture.cacheKey(), width), small)
        return self._thumb[1]

    def export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export attention grid", "attention-grid.png", "PNG (*.png)")
        if path:
            if self.tiles_host.grab().save(path, "PNG"):
                self.state.message.emit(f"Attention grid saved to {path}")
            else:
                self.state.message.emit(f"{path}: cannot write the PNG")
