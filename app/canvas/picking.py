"""Choosing a class on the canvas: for a box just drawn, and for the selected boxes (C).

`ClassPickFlow` is owned by CanvasWidget (`canvas.class_pick`). It owns the ClassPickerWidget
(a child of the canvas, not a modal dialog), what the open picker is for, and the drawn box that
waits for its class; the answer goes to the state as an edit. The canvas tells it where to open
and hears back through `on_new_box_done` (the drawn box was added or given up: stop drawing).
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPoint, QRectF, Slot
from PySide6.QtWidgets import QWidget

from .class_picker import ClassPickerWidget

NEW, CHANGE = "new", "change"  # what the open picker is for


class ClassPickFlow:
    def __init__(self, state, parent: QWidget, on_new_box_done: Callable[[], None]):
        self.state = state
        self.parent = parent  # the canvas: the picker's parent, focused again after an answer
        self.on_new_box_done = on_new_box_done
        self.picker = ClassPickerWidget(parent)
        self.purpose = ""  # NEW, CHANGE, or "" before the first pick
        self.pending: QRectF | None = None  # a drawn box waiting for its class (image px)
        self.picker.picked.connect(self._on_picker_picked)
        self.picker.create_requested.connect(self._on_picker_create_requested)
        self.picker.cancelled.connect(self._on_picker_cancelled)

    def is_open(self) -> bool:
        return self.picker.isVisible()

    def cancel(self) -> None:
        """Close the picker as if the user pressed Esc."""
        self.picker.cancel()

    def close(self) -> None:
        """Close without an answer (the image changed): the drawn box is dropped."""
        self.picker.hide()
        self.pending = None

    def for_new_box(self, rect: QRectF, at: QPoint) -> None:
        """Ask the class of the box `rect` just drawn, at viewport point `at`."""
        self.pending = QRectF(rect)
        self._open(at, self.state.edits.last_category_id, "Class of the new box", NEW)

    def for_selection(self, at: QPoint, ann_id: int) -> None:
        """Ask a new class for the selected boxes, starting from the class of box `ann_id`."""
        current = next((a["category_id"] for a in self.state.current_annotations() if a["id"] == ann_id), None)
        self._open(at, current, "Change class", CHANGE)

    def _open(self, at: QPoint, current: int | None, title: str, purpose: str) -> None:
        cats = [(c["id"], c["name"], self.state.category_color(c["id"])) for c in self.state.categories()]
        self.purpose = purpose
        self.picker.open_at(at + QPoint(8, 8), cats, current, title)

    def _take_pending(self) -> list[float] | None:
        """The waiting box as COCO [x, y, w, h], once; drawing ends with it."""
        rect, self.pending = self.pending, None
        if rect is None:
            return None
        self.on_new_box_done()
        return [rect.x(), rect.y(), rect.width(), rect.height()]

    @Slot(int)
    def _on_picker_picked(self, category_id: int) -> None:
        if self.purpose == NEW:
            bbox = self._take_pending()
            if bbox is not None:
                self.state.add_box(bbox, category_id)
        elif self.purpose == CHANGE:
            self.state.set_selection_category(category_id)
        self.parent.setFocus()

    @Slot(str)
    def _on_picker_create_requested(self, name: str) -> None:
        if self.purpose == NEW:
            bbox = self._take_pending()
            if bbox is not None:
                self.state.add_box_with_new_category(bbox, name)
        elif self.purpose == CHANGE:
            with self.state.edits.undo_step(f"Set class to {name}"):
                category_id = self.state.edits.add_category(name)
                if category_id is not None:
                    self.state.set_selection_category(category_id)
        self.parent.setFocus()

    @Slot()
    def _on_picker_cancelled(self) -> None:
        if self.purpose == NEW:
            self.pending = None
            self.on_new_box_done()
        self.parent.setFocus()
