"""Choosing a class on the canvas: after drawing a box, and for the selected boxes (C).

Mixed into CanvasWidget; the ClassPickerWidget itself is a child of the canvas.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, Slot


class ClassPickingMixin:
    """Needs: state, picker, _items, _pending, _picker_purpose, _end_drawing, setFocus."""

    def change_class(self) -> None:
        """Open the class picker for the selected boxes (C)."""
        chosen = [self._items[i] for i in self.state.selection if i in self._items]
        if not chosen:
            self.state.message.emit("Select a box first.")
            return
        anchor = self.mapFromScene(chosen[0].rect().bottomLeft())
        current = self._category_of(chosen[0].ann_id)
        self._open_picker(anchor, current, "Change class", "change")

    def _open_picker(self, at: QPoint, current: int | None, title: str, purpose: str) -> None:
        cats = [(c["id"], c["name"], self.state.category_color(c["id"])) for c in self.state.categories()]
        self._picker_purpose = purpose
        self.picker.open_at(at + QPoint(8, 8), cats, current, title)

    @Slot(int)
    def _on_picker_picked(self, category_id: int) -> None:
        if self._picker_purpose == "new" and self._pending is not None:
            r = self._pending
            self._end_drawing()
            self.state.add_box([r.x(), r.y(), r.width(), r.height()], category_id)
        elif self._picker_purpose == "change":
            self.state.set_selection_category(category_id)
        self.setFocus()

    @Slot(str)
    def _on_picker_create_requested(self, name: str) -> None:
        if self._picker_purpose == "new" and self._pending is not None:
            r = self._pending
            self._end_drawing()
            self.state.add_box_with_new_category([r.x(), r.y(), r.width(), r.height()], name)
        elif self._picker_purpose == "change":
            with self.state.edits.undo_step(f"Set class to {name}"):
                category_id = self.state.edits.add_category(name)
                if category_id is not None:
                    self.state.set_selection_category(category_id)
        self.setFocus()

    @Slot()
    def _on_picker_cancelled(self) -> None:
        if self._picker_purpose == "new":
            self._end_drawing()
        self.setFocus()

