"""A | B: the image twice, each model's boxes coloured by their outcome, and (for a selected
object) each model's cross-attention for its query. `toggle()` switches between the two panes
side by side and one pane that flips between A and B (key T in the Compare dock)."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene, QGraphicsSimpleTextItem,
                               QGraphicsView, QHBoxLayout, QLabel, QVBoxLayout, QWidget)

from ..model.heatmap_image import image_transform

COLORS = {"kept": "#2e7d32", "moved": "#f9a825", "fixed": "#00c853", "broke": "#d50000", "missed": "#ff6d00",
          "new_fp": "#d500f9", "removed_fp": "#9e9e9e", "kept_fp": "#ab47bc", "class_changed": "#ffd600",
          "label": "#ffffff"}


def pane_boxes(records: list[dict], side: str) -> list[tuple[list[float], str, str]]:
    """What pane `side` ("a" or "b") draws for one image's outcome records: (xyxy, colour key, tag).
    A model's own box where it has one; the label where it missed (fixed for A, broke for B)."""
    found = {"kept": ("kept", "kept"), "fixed": ("fixed", "fixed"), "broke": ("kept", "found (B lost it)")}
    lost = {"fixed": ("missed", "missed by A"), "broke": ("broke", "broke"), "missed": ("missed", "missed")}
    false_pos = {"new_fp": ("b", "new FP"), "removed_fp": ("a", "FP (gone in B)"), "kept_fp": ("ab", "FP")}
    boxes = []
    for r in records:
        outcome, own = r["outcome"], r.get(side)
        if outcome in lost or outcome == "kept":
            if own is None:
                key, tag = lost[outcome]
                boxes.append((r["label"]["bbox_xyxy"], key, tag))
            elif r.get("moved"):
                boxes.append((own["bbox_xyxy"], "moved", f"moved {r['iou_change']:+.2f}"))
            else:
                boxes.append((own["bbox_xyxy"], *found[outcome]))
        elif outcome in false_pos and own is not None and side in false_pos[outcome][0]:
            boxes.append((own["bbox_xyxy"], outcome, false_pos[outcome][1]))
        elif outcome == "class_changed" and own is not None:
            boxes.append((own["bbox_xyxy"], "class_changed", "class changed"))
    return boxes


class _Pane(QGraphicsView):
    def __init__(self, title: str):
        super().__init__()
        self.title = title
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QColor("#202020"))
        self.drawn: list[tuple[str, str]] = []  # (colour key, tag) of every box drawn

    def show_image(self, picture, heatmap, boxes) -> None:
        scene = self.scene()
        scene.clear()
        self.drawn = []
        if picture is None:
            return
        scene.addItem(QGraphicsPixmapItem(QPixmap.fromImage(picture)))
        if heatmap is not None:
            overlay = QGraphicsPixmapItem(QPixmap.fromImage(heatmap))
            overlay.setTransform(image_transform(heatmap, (picture.width(), picture.height())))
            overlay.setOpacity(0.55)
            scene.addItem(overlay)
        for xyxy, key, tag in boxes:
            x0, y0, x1, y1 = xyxy
            rect = QGraphicsRectItem(QRectF(x0, y0, x1 - x0, y1 - y0))
            pen = QPen(QColor(COLORS[key]), 2)
            pen.setCosmetic(True)
            rect.setPen(pen)
            scene.addItem(rect)
            text = QGraphicsSimpleTextItem(tag)
            text.setBrush(QColor(COLORS[key]))
            text.setPos(x0, max(0.0, y0 - 14))
            scene.addItem(text)
            self.drawn.append((key, tag))
        scene.setSceneRect(QRectF(0, 0, picture.width(), picture.height()))
        self.fitInView(scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)


class ComparePanesWidget(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.panes = {"a": _Pane("A"), "b": _Pane("B")}
        self.titles = {side: QLabel(f"<b>{side.upper()}</b>") for side in self.panes}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for side, pane in self.panes.items():
            column = QVBoxLayout()
            column.addWidget(self.titles[side])
            column.addWidget(pane, 1)
            layout.addLayout(column, 1)
        self.split = True
        self.single_side = "a"

    def show_view(self, view, records: list[dict]) -> None:
        for side, pane in self.panes.items():
            heatmap = view.heatmap_a if side == "a" else view.heatmap_b
            pane.show_image(view.picture, heatmap, pane_boxes(records, side))

    def toggle(self) -> str:
        """Side by side -> only A -> only B -> only A ... ; returns what is shown now."""
        if self.split:
            self.split = False
        else:
            self.single_side = "b" if self.single_side == "a" else "a"
        self._apply()
        return self.mode()

    def set_split(self, split: bool) -> None:
        self.split = split
        self._apply()

    def mode(self) -> str:
        return "A | B" if self.split else self.single_side.upper()

    def _apply(self) -> None:
        for side in self.panes:
            visible = self.split or side == self.single_side
            self.panes[side].setVisible(visible)
            self.titles[side].setVisible(visible)
