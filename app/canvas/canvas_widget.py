"""CanvasWidget: the current image with its boxes; zoom, pan, draw, select, move, resize.

Scene coordinates are image pixels (see layers.py for the overlay layers other docks use).
Mouse and keys:
  wheel zoom (under the cursor); Space+drag or middle-drag pan; a short Space tap marks the
  image reviewed; in draw mode (R/W) drag a box, then pick its class; in select mode click,
  Ctrl+click or drag a rubber band to select, drag a box to move it, drag a handle to resize;
  arrow keys nudge the selection 1 px (Shift: 10 px); Esc cancels or clears the selection.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QPoint, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPixmap, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QLabel

from .box_item import BoxItem
from .drawing import DRAW, DrawTool
from .layers import STANDARD_LAYERS, LayerItem
from .picking import ClassPickFlow
from .zoom import ZoomController

WELCOME = "Open an image, a folder or a COCO JSON file\n(Ctrl+O, Ctrl+Shift+O, Ctrl+J), or drop it here."
SPACE_TAP_SECONDS = 0.35
_ARROWS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}


class CanvasWidget(QGraphicsView):
    """Composed of three tools, each owning its state and used through its public methods:
    `zooming` (ZoomController), `drawing` (DrawTool: mode, rubber band, guides) and `class_pick`
    (ClassPickFlow: the class picker and the drawn box waiting for its class)."""

    zoom_changed = Signal(float)  # view pixels per image pixel
    cursor_moved = Signal(float, float, bool)  # image x, y, whether over the image
    box_size_changed = Signal(float, float)  # while drawing / resizing (image px); -1, -1 after
    mode_changed = Signal(str)  # "select" or "draw"

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.setScene(QGraphicsScene(self))
        self._layers: dict[str, LayerItem] = {}
        for name, z in STANDARD_LAYERS.items():
            self.add_layer(name, z)
        self._pixmap_item = QGraphicsPixmapItem(self.layer("image"))
        self._pixmap_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self._items: dict[int, BoxItem] = {}
        self._retired: list[BoxItem] = []  # removed items kept alive until the next update
        self._image_rect = QRectF()
        self._syncing = False
        self._pan_from: QPoint | None = None
        self._space_down, self._space_since, self._space_panned = False, 0.0, False
        self.zooming = ZoomController(self, self.image_rect, self._on_zoomed)
        self.drawing = DrawTool(self, self.layer("tools"), self.image_rect, self.mode_changed.emit,
                                self.box_size_changed.emit)
        self.class_pick = ClassPickFlow(state, self, on_new_box_done=self.drawing.end)
        self.picker = self.class_pick.picker
        self._setup_view()
        self._connect_state()

    # -- set-up -----------------------------------------------------------------------------------
    def _setup_view(self) -> None:
        self.setBackgroundBrush(QColor("#2b2d30"))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # zooming anchors
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # drops go to the window, which opens them
        self.viewport().setAcceptDrops(False)
        self._notice = QLabel(self.viewport())
        self._notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._notice.setWordWrap(True)
        self._notice.setStyleSheet("color: #c8ccd2; font-size: 14px; background: transparent;")
        self._notice.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._set_notice(WELCOME)
        self.scene().selectionChanged.connect(self._on_scene_selection_changed)

    def _connect_state(self) -> None:
        s = self.state
        s.document_opened.connect(self._on_state_document_opened)
        s.current_changed.connect(self._on_state_current_changed)
        s.image_loaded.connect(self._on_state_image_loaded)
        s.image_failed.connect(self._on_state_image_failed)
        s.annotations_changed.connect(self._on_state_annotations_changed)
        s.categories_changed.connect(self.refresh_boxes)
        s.visibility_changed.connect(self.refresh_boxes)
        s.selection_changed.connect(self._on_state_selection_changed)

    # -- public API ---------------------------------------------------------------------------------
    def layer(self, name: str) -> LayerItem:
        """The parent item of layer `name`; children are placed in image-pixel coordinates."""
        return self._layers[name]

    def add_layer(self, name: str, z: float) -> LayerItem:
        """A new overlay layer (e.g. from the model dock); z orders it among STANDARD_LAYERS."""
        if name not in self._layers:
            self._layers[name] = LayerItem(name, z)
            self.scene().addItem(self._layers[name])
        return self._layers[name]

    def image_rect(self) -> QRectF:
        return QRectF(self._image_rect)

    def mode(self) -> str:
        return self.drawing.mode

    def box_items(self) -> dict[int, BoxItem]:
        return dict(self._items)

    def start_drawing(self) -> None:
        if self._image_rect.isEmpty():
            self.state.message.emit("No image to draw on.")
            return
        self.drawing.set_mode(DRAW)
        self.setFocus()

    def select_next_box(self, step: int = 1) -> None:
        """Tab / Shift+Tab: select the next / previous box, left to right, top to bottom."""
        order = sorted(self._items, key=lambda i: (self._items[i].rect().left(), self._items[i].rect().top()))
        if not order:
            return
        current = self.state.selection[-1] if self.state.selection else None
        index = order.index(current) + step if current in order else (0 if step > 0 else -1)
        chosen = order[index % len(order)]
        self.state.set_selection([chosen])
        self.ensureVisible(self._items[chosen].rect(), 40, 40)

    def change_class(self) -> None:
        """Open the class picker for the selected boxes (C)."""
        chosen = [self._items[i] for i in self.state.selection if i in self._items]
        if not chosen:
            self.state.message.emit("Select a box first.")
            return
        self.class_pick.for_selection(self.mapFromScene(chosen[0].rect().bottomLeft()), chosen[0].ann_id)

    # -- zoom (ZoomController) ------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.zooming.zoom()

    def zoom_in(self) -> None:
        self.zooming.zoom_in()

    def zoom_out(self) -> None:
        self.zooming.zoom_out()

    def zoom_fit(self) -> None:
        self.zooming.zoom_fit()

    def zoom_actual(self) -> None:
        self.zooming.zoom_actual()

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zooming.wheel(event.angleDelta().y(), event.position().toPoint())
        event.accept()

    def _on_zoomed(self, zoom: float) -> None:
        for item in self._items.values():
            item.set_view_scale(zoom)
        mode = Qt.TransformationMode.SmoothTransformation if zoom < 2 else Qt.TransformationMode.FastTransformation
        self._pixmap_item.setTransformationMode(mode)
        self.zoom_changed.emit(zoom)

    def focusNextPrevChild(self, forward: bool) -> bool:
        return False  # Tab walks the boxes, not the widgets

    def cancel(self) -> None:
        """Esc: stop drawing, close the picker, or clear the selection."""
        if self.class_pick.is_open():
            self.class_pick.cancel()
        elif self.drawing.start is not None or self.drawing.mode == DRAW:
            self.drawing.end()
        else:
            self.state.set_selection([])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._notice.setGeometry(self.viewport().rect().adjusted(20, 20, -20, -20))
        if self.zooming.fits:
            self.zooming.zoom_fit()

    # -- state -> picture ---------------------------------------------------------------------------
    @Slot()
    def _on_state_document_opened(self) -> None:
        self._clear_image()
        if self.state.document is None:
            self._set_notice(WELCOME)
        elif self.state.row_count() == 0:
            self._set_notice("No images here (jpg, png, bmp, tif, webp).\nOpen another folder, or "
                             "add images to this one and open it again.")
        self.setFocus()

    @Slot(int)
    def _on_state_current_changed(self, row: int) -> None:
        self.drawing.end()
        self.class_pick.close()
        self._clear_image()
        if row >= 0:
            self._set_notice(f"Loading {self.state.entry(row).name} …")

    @Slot(int, QImage)
    def _on_state_image_loaded(self, row: int, picture: QImage) -> None:
        self._pixmap_item.setPixmap(QPixmap.fromImage(picture))
        self._image_rect = QRectF(0, 0, picture.width(), picture.height())
        self.setSceneRect(self._image_rect)
        self._set_notice("")
        self.refresh_boxes()
        self.zooming.refresh()

    @Slot(int, str)
    def _on_state_image_failed(self, row: int, message: str) -> None:
        self._clear_image()
        self._set_notice(f"⚠  This image cannot be shown.\n\n{message}")

    @Slot(int)
    def _on_state_annotations_changed(self, image_id: int) -> None:
        entry = self.state.current_entry()
        if entry is not None and entry.image_id == image_id:
            self.refresh_boxes()

    @Slot()
    def refresh_boxes(self) -> None:
        """Make the box items match the document: update in place, add new, retire removed."""
        self._retired.clear()
        wanted: dict[int, dict] = {}
        if not self._image_rect.isEmpty():
            wanted = {a["id"]: a for a in self.state.current_annotations()
                      if self.state.is_category_visible(a["category_id"])}
        self._syncing = True
        for ann_id in [i for i in self._items if i not in wanted]:
            item = self._items.pop(ann_id)
            self.scene().removeItem(item)
            self._retired.append(item)
        zoom = self.zoom()
        for ann_id, ann in wanted.items():
            rect = QRectF(*ann["bbox"])
            color = self.state.category_color(ann["category_id"])
            name = self.state.category_name(ann["category_id"])
            item = self._items.get(ann_id)
            if item is None:
                item = BoxItem(ann_id, rect, color, name, self._image_rect,
                               self._on_box_committed, self._on_box_preview)
                item.setParentItem(self.layer("annotations"))
                self._items[ann_id] = item
            else:
                item.update_look(rect, color, name)
            item.set_view_scale(zoom)
            item.set_label_visible(self.state.labels_visible)
            item.setSelected(ann_id in self.state.selection)
        self._syncing = False

    def _clear_image(self) -> None:
        self._pixmap_item.setPixmap(QPixmap())
        self._image_rect = QRectF()
        self.setSceneRect(QRectF(0, 0, 1, 1))
        self.refresh_boxes()

    def _set_notice(self, text: str) -> None:
        self._notice.setText(text)
        self._notice.setVisible(bool(text))
        self._notice.setGeometry(self.viewport().rect().adjusted(20, 20, -20, -20))

    # -- selection --------------------------------------------------------------------------------
    @Slot()
    def _on_scene_selection_changed(self) -> None:
        if not self._syncing:
            ids = [i.ann_id for i in self.scene().selectedItems() if isinstance(i, BoxItem)]
            self.state.set_selection(sorted(ids))

    @Slot(list)
    def _on_state_selection_changed(self, ids: list) -> None:
        self._syncing = True
        for ann_id, item in self._items.items():
            item.setSelected(ann_id in ids)
        self._syncing = False

    # -- box edits from items -------------------------------------------------------------------------
    def _on_box_committed(self, changed: dict[int, QRectF]) -> None:
        self.state.set_bboxes({i: [r.x(), r.y(), r.width(), r.height()] for i, r in changed.items()})

    def _on_box_preview(self, rect: QRectF | None) -> None:
        if rect is None:
            self.box_size_changed.emit(-1.0, -1.0)
        else:
            self.box_size_changed.emit(rect.width(), rect.height())

    # -- mouse ------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.class_pick.is_open():
            self.class_pick.cancel()
            return
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_from, self._space_panned = event.position().toPoint(), True
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if button == Qt.MouseButton.LeftButton and self.drawing.press(self.mapToScene(event.position().toPoint())):
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        scene_pos = self.mapToScene(pos)
        self.cursor_moved.emit(scene_pos.x(), scene_pos.y(), self._image_rect.contains(scene_pos))
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            return
        if self.drawing.move(scene_pos):
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            hand = Qt.CursorShape.OpenHandCursor if self._space_down else Qt.CursorShape.ArrowCursor
            self.viewport().setCursor(Qt.CursorShape.CrossCursor if self.drawing.mode == DRAW else hand)
            return
        if self.drawing.start is not None and event.button() == Qt.MouseButton.LeftButton:
            rect = self.drawing.release(self.mapToScene(event.position().toPoint()))
            if rect is not None:  # else a stray click: stay in draw mode
                self.class_pick.for_new_box(rect, event.position().toPoint())
            return
        super().mouseReleaseEvent(event)

    # -- keys -------------------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        # Space belongs to the canvas (tap: reviewed, hold: pan); arrows nudge boxes.
        if event.type() == QEvent.Type.ShortcutOverride and not (event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier):
            if event.key() == Qt.Key.Key_Space or (event.key() in _ARROWS and self.state.selection):
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_down, self._space_since, self._space_panned = True, time.monotonic(), False
                if self.drawing.mode != DRAW:
                    self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if key in _ARROWS and self.state.selection:
            step = 10.0 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1.0
            dx, dy = _ARROWS[key]
            self.state.nudge_selection(dx * step, dy * step)
            return
        if key == Qt.Key.Key_Escape:
            self.cancel()
            return
        if key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            self.select_next_box(-1 if key == Qt.Key.Key_Backtab else 1)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            tap = not self._space_panned and time.monotonic() - self._space_since < SPACE_TAP_SECONDS
            self._space_down = False
            self.viewport().setCursor(self.drawing.cursor())
            if tap:
                self.state.mark_reviewed()
            return
        super().keyReleaseEvent(event)

