"""Predictions on the canvas: dashed boxes with class and score, in the "predictions" layer.

They look unlike annotations on purpose (dashed outline, no fill, score in an outlined tag) and sit
below them. A click selects the prediction (its attention shows) and still lets the canvas do what
a click there always does (start a rubber band, clear the box selection); a double click accepts
it. Items are rebuilt from `state.model` on every change: there are at most a few hundred.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneMouseEvent

from detr_core.infer.detections import Detection

UNMAPPED_COLOR = QColor("#f5f5f5")  # a model class without a dataset class yet


class ScoreTagItem(QGraphicsItem):
    """"name 0.93" in an outlined dark tag above the box, constant size on screen."""

    def __init__(self, parent: QGraphicsItem, text: str, color: QColor):
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._font = QFont()
        self._font.setPointSizeF(8.0)
        self._font.setItalic(True)
        self._text, self._color = text, QColor(color)
        metrics = QFontMetricsF(self._font)
        self._rect = QRectF(0, -metrics.height() - 2, metrics.horizontalAdvance(text) + 8, metrics.height() + 2)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.fillRect(self._rect, QColor(20, 20, 24, 200))
        pen = QPen(self._color, 1, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawRect(self._rect)
        painter.setFont(self._font)
        painter.setPen(self._color)
        painter.drawText(self._rect.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter, self._text)


class PredictionItem(QGraphicsItem):
    """One prediction: dashed box (thicker and lightly filled when selected) and its tag."""

    def __init__(self, detection: Detection, color: QColor, layer: "PredictionLayer"):
        super().__init__()
        self.detection = detection
        x0, y0, x1, y1 = detection.box_xyxy
        self._rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self._color = QColor(color)
        self._layer = layer
        self._selected = False
        self._tag = ScoreTagItem(self, f"{detection.name} {detection.score:.2f}", self._color)
        self._tag.setPos(self._rect.topLeft())
        self.setAcceptHoverEvents(True)
        self.setZValue(-self._rect.width() * self._rect.height())  # small boxes stay clickable
        self.setToolTip(f"Prediction: {detection.name}, score {detection.score:.3f}, query {detection.query}\n"
                        "Click: show its attention · double-click or Enter: accept · X: reject")

    def rect(self) -> QRectF:
        return QRectF(self._rect)

    def set_selected(self, selected: bool) -> None:
        if selected != self._selected:
            self._selected = selected
            self.update()

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pen = QPen(self._color, 3.0 if self._selected else 1.6, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        painter.setPen(pen)
        if self._selected:
            fill = QColor(self._color)
            fill.setAlpha(40)
            painter.setBrush(fill)
        painter.drawRect(self._rect)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._layer.clicked_at(event.scenePos())
        # Ignored: the canvas still gets its click (rubber band, clearing the box selection). The
        # press then also reaches the predictions below; clicked_at picks the topmost each time.
        event.ignore()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._layer.double_clicked_at(event.scenePos())
            event.accept()
        else:
            event.ignore()


class PredictionLayer(QObject):
    """Keeps the canvas's "predictions" layer in step with `state.model`."""

    drawn = Signal(int, int)  # row, number of predictions drawn (after every refresh)

    def __init__(self, state, canvas, parent: QObject | None = None):
        super().__init__(parent)
        self.state, self.model = state, state.model
        self.layer = canvas.layer("predictions")
        self._items: dict[int, PredictionItem] = {}  # query -> item
        self._retired: list[PredictionItem] = []  # removed items live until the next refresh
        m = self.model
        m.predictions_changed.connect(self._on_model_predictions_changed)
        m.threshold_changed.connect(self.refresh)
        m.query_changed.connect(self._on_model_query_changed)
        m.view_changed.connect(self._on_model_view_changed)
        m.model_changed.connect(self.refresh)
        state.current_changed.connect(self.refresh)
        state.annotations_changed.connect(lambda _image_id: self.refresh())
        state.categories_changed.connect(self.refresh)
        state.document_opened.connect(self.refresh)

    def items(self) -> dict[int, PredictionItem]:
        return dict(self._items)

    @Slot()
    def refresh(self) -> None:
        # Removed items are kept alive until the next refresh: this may run inside one of their
        # own mouse handlers (a double click accepts, which refreshes).
        self._retired = list(self._items.values())
        self.layer.clear()
        self._items.clear()
        row = self.state.current_row
        colors: dict[str, QColor] = {}
        if row >= 0:
            for d in self.model.prediction_view.visible_predictions():
                if d.name not in colors:
                    category = self.model.acceptor.category_for(d.name)
                    colors[d.name] = (self.state.category_color(category) if category is not None
                                      else UNMAPPED_COLOR)
                item = PredictionItem(d, colors[d.name], self)
                item.setParentItem(self.layer)
                item.set_selected(d.query == self.model.prediction_view.selected_query)
                self._items[d.query] = item
        self.layer.setVisible(self.model.prediction_view.predictions_visible)
        self.drawn.emit(row, len(self._items))

    @Slot(int)
    def _on_model_predictions_changed(self, row: int) -> None:
        if row in (-1, self.state.current_row):
            self.refresh()

    @Slot(int)
    def _on_model_query_changed(self, query: int) -> None:
        for q, item in self._items.items():
            item.set_selected(q == query)

    @Slot()
    def _on_model_view_changed(self) -> None:
        self.layer.setVisible(self.model.prediction_view.predictions_visible)

    def item_at(self, scene_pos: QPointF) -> PredictionItem | None:
        """The topmost prediction at a point (the smallest box, or the selected one)."""
        scene = self.layer.scene()
        found = scene.items(scene_pos) if scene is not None else []
        return next((i for i in found if isinstance(i, PredictionItem) and i in self._items.values()), None)

    def clicked_at(self, scene_pos: QPointF) -> None:
        item = self.item_at(scene_pos)
        if item is not None:
            self.model.prediction_view.select_query(item.detection.query)

    def double_clicked_at(self, scene_pos: QPointF) -> None:
        item = self.item_at(scene_pos)
        if item is not None:
            self.model.prediction_view.select_query(item.detection.query)
            self.model.acceptor.accept([item.detection.query])
