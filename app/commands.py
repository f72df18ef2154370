"""Undoable edits of the COCO document, one QUndoCommand per user action.

Every command goes through `AppState.push`, so there is one QUndoStack for the session and undo
works across images: undoing or redoing an edit made on another image first brings that image
back on screen. Box edits also set the image's status to "edited" (and put the old status back
on undo). Commands talk to the document only through its public edit API.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from detr_core.errors import WorkbenchError

from .colors import COLOR_KEY

if TYPE_CHECKING:
    from .state import AppState

log = logging.getLogger(__name__)
_UNSET = object()
# What the document raises for an edit it refuses (a bad box, an unknown id, a taken name).
REFUSED = (ValueError, KeyError, IndexError, WorkbenchError)
NUDGE_ID = 1  # consecutive arrow-key nudges of the same boxes merge into one undo step


class StateCommand(QUndoCommand):
    """Base: `apply`/`revert` change the document; the base handles status and notifications."""

    marks_edited = False  # box edits: status becomes "edited"

    def __init__(self, state: "AppState", text: str, image_id: int | None = None):
        super().__init__(text)
        self.state = state
        self.doc = state.document
        self.image_id = image_id
        self._done_once = False
        self._old_status = _UNSET
        self.failed = False  # the document refused it: Qt drops obsolete commands from the stack

    def _refused(self, error: Exception) -> None:
        log.warning("%s: not applied", self.text(), exc_info=error)
        self.failed = True
        self.setObsolete(True)
        self.state.message.emit(f"{self.text()}: not applied ({error})")

    def redo(self) -> None:
        if self._done_once and self.image_id is not None:
            self.state.reveal_image(self.image_id)
        try:
            self.apply(first=not self._done_once)
        except REFUSED as e:
            self._refused(e)
            return
        self._done_once = True
        if self.marks_edited and self.image_id is not None:
            if self._old_status is _UNSET:
                self._old_status = self.state.raw_status(self.image_id)
            self.state.set_raw_status(self.image_id, "edited")
        self.notify(self.selected_after_redo())

    def undo(self) -> None:
        if self.image_id is not None:
            self.state.reveal_image(self.image_id)
        try:
            self.revert()
        except REFUSED as e:
            self._refused(e)
            return
        if self.marks_edited and self.image_id is not None and self._old_status is not _UNSET:
            self.state.set_raw_status(self.image_id, self._old_status)
        self.notify(self.selected_after_undo())

    def apply(self, first: bool) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError

    def selected_after_redo(self) -> list[int] | None:
        return None  # None: leave the selection alone

    def selected_after_undo(self) -> list[int] | None:
        return None

    def notify(self, selection: list[int] | None) -> None:
        if self.image_id is None:
            self.state.notify_categories()
        else:
            self.state.notify_image(self.image_id)
        if selection is not None:
            self.state.set_selection(selection)


# -- images and boxes -----------------------------------------------------------------------------
class AddImageCommand(StateCommand):
    """Give a listed image its COCO record (done with its first edit). Undo removes the record,
    so undoing every edit leaves the document exactly as it was."""

    def __init__(self, state, row: int, width: int, height: int):
        super().__init__(state, "Add image record")
        self.row, self.size = row, (width, height)
        self._record = None

    def apply(self, first: bool) -> None:
        if first:
            image_id = self.doc.add_image(self.state.entries[self.row].path, *self.size)
        else:
            self.doc.restore(self._record)
            image_id = self._record["image"]["id"]
        self.state.attach_image_id(self.row, image_id)

    def revert(self) -> None:
        self._record = self.doc.remove_image(self.state.entries[self.row].image_id)
        self.state.attach_image_id(self.row, None)

    def notify(self, selection) -> None:
        self.state.image_changed.emit(self.row)


class AddBoxesCommand(StateCommand):
    marks_edited = True

    def __init__(self, state, image_id: int, boxes: list[tuple[int, list[float]]], text: str):
        super().__init__(state, text, image_id)
        self.boxes = boxes  # (category id, bbox xywh)
        self.ids: list[int] = []
        self._removed: list[tuple[int, dict]] = []

    def apply(self, first: bool) -> None:
        if first:
            self.ids = [self.doc.add_annotation(self.image_id, cat, bbox) for cat, bbox in self.boxes]
        else:
            for index, ann in reversed(self._removed):
                self.doc.insert_annotation(index, ann)

    def revert(self) -> None:
        self._removed = [self.doc.remove_annotation(i) for i in reversed(self.ids)]

    def selected_after_redo(self):
        return list(self.ids)

    def selected_after_undo(self):
        return []


class RemoveBoxesCommand(StateCommand):
    marks_edited = True

    def __init__(self, state, image_id: int, ids: list[int]):
        n = len(ids)
        super().__init__(state, f"Delete {n} box{'es' if n != 1 else ''}", image_id)
        self.ids = list(ids)
        self._removed: list[tuple[int, dict]] = []

    def apply(self, first: bool) -> None:
        self._removed = [self.doc.remove_annotation(i) for i in self.ids]

    def revert(self) -> None:
        for index, ann in reversed(self._removed):
            self.doc.insert_annotation(index, ann)

    def selected_after_redo(self):
        return []

    def selected_after_undo(self):
        return list(self.ids)


class SetBoxesCommand(StateCommand):
    """Move or resize boxes. Nudges (merge=True) of the same boxes collapse into one step."""

    marks_edited = True

    def __init__(self, state, image_id: int, bboxes: dict[int, list[float]], text: str,
                 merge: bool = False):
        super().__init__(state, text, image_id)
        self.new = dict(bboxes)
        self.old: dict[int, list[float]] = {}
        self._merge = merge

    def id(self) -> int:
        return NUDGE_ID if self._merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetBoxesCommand) or other.image_id != self.image_id \
                or set(other.new) != set(self.new):
            return False
        self.new = dict(other.new)
        return True

    def apply(self, first: bool) -> None:
        for ann_id, bbox in self.new.items():
            old = self.doc.set_bbox(ann_id, bbox)
            if first:
                self.old[ann_id] = list(old)

    def revert(self) -> None:
        for ann_id, bbox in self.old.items():
            self.doc.set_bbox(ann_id, bbox)

    def selected_after_redo(self):
        return list(self.new)

    def selected_after_undo(self):
        return list(self.new)


class SetBoxCategoryCommand(StateCommand):
    marks_edited = True

    def __init__(self, state, image_id: int, ids: list[int], category_id: int, name: str):
        super().__init__(state, f"Set class to {name}", image_id)
        self.ids, self.category_id = list(ids), category_id
        self.old: dict[int, int] = {}

    def apply(self, first: bool) -> None:
        for ann_id in self.ids:
            old = self.doc.set_category(ann_id, self.category_id)
            if first:
                self.old[ann_id] = old

    def revert(self) -> None:
        for ann_id, cat in self.old.items():
            self.doc.set_category(ann_id, cat)

    def selected_after_redo(self):
        return list(self.ids)

    def selected_after_undo(self):
        return list(self.ids)


class SetStatusCommand(StateCommand):
    """Mark an image reviewed (or any status). Stored on the image record, see state.STATUS_KEY."""

    def __init__(self, state, image_id: int, status: str):
        super().__init__(state, f"Mark {status}", image_id)
        self.status = status
        self.old = _UNSET

    def apply(self, first: bool) -> None:
        if first:
            self.old = self.state.raw_status(self.image_id)
        self.state.set_raw_status(self.image_id, self.status)

    def revert(self) -> None:
        self.state.set_raw_status(self.image_id, self.old)


# -- classes --------------------------------------------------------------------------------------
class AddCategoryCommand(StateCommand):
    def __init__(self, state, name: str, supercategory: str = ""):
        super().__init__(state, f"Add class {name}")
        self.name, self.supercategory = name, supercategory
        self.category_id: int | None = None
        self._record = None

    def apply(self, first: bool) -> None:
        if first:
            self.category_id = self.doc.add_category(self.name, self.supercategory)
        else:
            self.doc.restore(self._record)

    def revert(self) -> None:
        self._record = self.doc.remove_category(self.category_id, boxes="delete")


class CategoryFieldCommand(StateCommand):
    """Rename, set supercategory or colour: `setter(id, value) -> old value`."""

    def __init__(self, state, category_id: int, setter, value, text: str):
        super().__init__(state, text)
        self.category_id, self._setter, self.value = category_id, setter, value
        self.old = None

    def apply(self, first: bool) -> None:
        old = self._setter(self.category_id, self.value)
        if first:
            self.old = old

    def revert(self) -> None:
        self._setter(self.category_id, self.old)


def set_category_color(doc, category_id: int, color: str | None) -> str | None:
    """Store a class colour on its COCO record (None: back to the palette). Returns the old one."""
    return doc.set_category_field(category_id, COLOR_KEY, color)  # an edit: journalled


class RecordCommand(StateCommand):
    """Merge or delete a class: the document returns a record that `restore` undoes."""

    def __init__(self, state, text: str, operation):
        super().__init__(state, text)
        self._operation = operation  # () -> record
        self._record = None

    def apply(self, first: bool) -> None:
        self._record = self._operation() if first else self.doc.reapply(self._record)

    def revert(self) -> None:
        self.doc.restore(self._record)
