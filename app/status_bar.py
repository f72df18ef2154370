"""The status bar: messages on the left; image i/n, cursor position (image pixels), box size
while drawing or resizing, zoom and unsaved-edits marker on the right."""
from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QStatusBar

MESSAGE_MS = 6000


class StatusBarWidget(QStatusBar):
    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.position = self._permanent("", 120, "Cursor position in image pixels")
        self.box_size = self._permanent("", 110, "Size of the box being drawn or resized")
        self.image = self._permanent("No image", 150, "Current image / images in the list")
        self.zoom = self._permanent("", 60, "Zoom (100 % = one image pixel per screen pixel)")
        self.dirty = self._permanent("", 90, "Whether there are unsaved edits")
        state.message.connect(self._on_state_message)
        state.current_changed.connect(self._on_state_current_changed)
        state.document_opened.connect(lambda: self._on_state_current_changed(state.current_row))
        state.image_loaded.connect(lambda row, picture: self._on_state_current_changed(row))
        state.image_failed.connect(lambda row, message: self.zoom.setText(""))
        state.dirty_changed.connect(self._on_state_dirty_changed)
        state.busy_changed.connect(lambda busy: self._on_state_dirty_changed(state.is_dirty(), busy))

    def _permanent(self, text: str, width: int, tip: str) -> QLabel:
        label = QLabel(text)
        label.setMinimumWidth(width)
        label.setToolTip(tip)
        self.addPermanentWidget(label)
        return label

    @Slot(str)
    def _on_state_message(self, text: str) -> None:
        self.showMessage(text, MESSAGE_MS)

    @Slot(int)
    def _on_state_current_changed(self, row: int) -> None:
        n = self.state.row_count()
        entry = self.state.current_entry()
        if entry is None:
            self.image.setText("No image" if n == 0 else f"– / {n}")
            self.zoom.setText("")
            return
        size = f"  {entry.size[0]}×{entry.size[1]}" if entry.size else ""
        self.image.setText(f"{row + 1} / {n}{size}")
        self.image.setToolTip(entry.path)

    @Slot(float)
    def on_canvas_zoom_changed(self, zoom: float) -> None:
        self.zoom.setText(f"{zoom * 100:.0f} %" if self.state.current_image is not None else "")

    @Slot(float, float, bool)
    def on_canvas_cursor_moved(self, x: float, y: float, inside: bool) -> None:
        self.position.setText(f"x {int(x)}, y {int(y)}" if inside else "")

    @Slot(float, float)
    def on_canvas_box_size_changed(self, width: float, height: float) -> None:
        self.box_size.setText(f"box {width:.0f}×{height:.0f}" if width >= 0 else "")

    @Slot(bool)
    def _on_state_dirty_changed(self, dirty: bool, busy: bool = False) -> None:
        self.dirty.setText("Saving…" if busy else "● unsaved" if dirty else "")
