"""Undoable edits of the COCO document, one command per user action. No Qt.

A command works on an `EditTarget`: the document, the image list and a small `EditNotify` (who is
told what changed). `redo()` / `undo()` change the document through its public edit API and
return False if the document refused (EditRefused: a bad box, a taken name...); the document is
then unchanged and the refusal was said through `notify.say`. Any other exception is a bug and
propagates. Box edits also set the image's status to "edited" (and put the old status back on
undo). Undoing or redoing an edit made on another image first brings that image back on screen.
The Qt undo stack holds these through the thin adapter in app/commands.py.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol

from detr_core.errors import EditRefused

from .entries import COLOR_KEY, ImageList

log = logging.getLogger(__name__)
_UNSET = object()
UNREVIEWED = "This image is no longer reviewed: it was edited (Space marks it reviewed again; undo restores it)."
NUDGE_ID = 1  # consecutive arrow-key nudges of the same boxes merge into one undo step


class EditNotify(Protocol):
    """What the commands (and the editor) tell the views."""

    def image_edited(self, image_id: int) -> None: ...  # an image's boxes or status changed
    def row_changed(self, row: int) -> None: ...  # a row got or lost its COCO record
    def categories_edited(self) -> None: ...  # classes added, renamed, merged, deleted, recoloured
    def reveal_image(self, image_id: int) -> None: ...  # bring this image on screen (undo/redo)
    def select(self, ids: list[int]) -> None: ...  # these annotation ids are now selected
    def say(self, text: str) -> None: ...  # a one-line note for the user


@dataclass(frozen=True)
class EditTarget:
    document: object  # detr_core.coco.CocoDocument
    images: ImageList
    notify: EditNotify


class EditCommand:
    """Base: subclasses' `apply`/`revert` change the document; this handles status, refusals and
    notifications."""

    marks_edited = False  # box edits: status becomes "edited"
    merge_id = -1  # commands with the same id >= 0 may merge (see merge_with)

    def __init__(self, target: EditTarget, text: str, image_id: int | None = None):
        self.target, self.doc, self.images = target, target.document, target.images
        self.text = text
        self.image_id = image_id
        self.failed = False  # the document refused it (the undo stack drops it)
        self._done_once = False
        self._old_status = _UNSET

    def _refused(self, error: EditRefused) -> bool:
        log.warning("%s: not applied", self.text, exc_info=error)
        self.failed = True
        self.target.notify.say(f"{self.text}: not applied ({error})")
        return False

    def redo(self) -> bool:
        if self._done_once and self.image_id is not None:
            self.target.notify.reveal_image(self.image_id)
        try:
            self.apply(first=not self._done_once)
        except EditRefused as e:
            return self._refused(e)
        self._done_once = True
        if self.marks_edited and self.image_id is not None:
            if self._old_status is _UNSET:
                self._old_status = self.images.raw_status(self.image_id)
            self.images.set_raw_status(self.image_id, "edited")
        self.notify(self.selected_after_redo())
        if self.marks_edited and self._old_status == "reviewed":  # said, not silent (issue 17, item 10)
            self.target.notify.say(UNREVIEWED)
        return True

    def undo(self) -> bool:
        if self.image_id is not None:
            self.target.notify.reveal_image(self.image_id)
        try:
            self.revert()
        except EditRefused as e:
            return self._refused(e)
        if self.marks_edited and self.image_id is not None and self._old_status is not _UNSET:
            self.images.set_raw_status(self.image_id, self._old_status)
        self.notify(self.selected_after_undo())
        return True

    def merge_with(self, other: "EditCommand") -> bool:
        """Take `other` (pushed right after this, same merge_id, already applied) into this one."""
        return False

    def apply(self, first: bool) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError

    def selected_after_redo(self) -> list[int] | None:
        return None  # None: leave the selection alone

    def selected_after_undo(self) -> list[int] | None:
        return None

    def notify(self, selection: list[int] | None) -> None:
        notify = self.target.notify
        if self.image_id is None:
            notify.categories_edited()
        else:
            notify.image_edited(self.image_id)
        if selection is not None:
            notify.select(selection)


# -- images and boxes -----------------------------------------------------------------------------
class AddImageCommand(EditCommand):
    """Give a listed image its COCO record (done with its first edit). Undo removes the record,
    so undoing every edit leaves the document exactly as it was."""

    def __init__(self, target: EditTarget, row: int, width: int, height: int):
        super().__init__(target, "Add image record")
        self.row, self.size = row, (width, height)
        self._record = None

    def apply(self, first: bool) -> None:
        if first:
            image_id = self.doc.add_image(self.images[self.row].path, *self.size)
        else:
            self.doc.restore(self._record)
            image_id = self._record["image"]["id"]
        self.images.attach_image_id(self.row, image_id)

    def revert(self) -> None:
        self._record = self.doc.remove_image(self.images[self.row].image_id)
        self.images.attach_image_id(self.row, None)

    def notify(self, selection) -> None:
        self.target.notify.row_changed(self.row)


class AddBoxesCommand(EditCommand):
    marks_edited = True

    def __init__(self, target: EditTarget, image_id: int, boxes: list[tuple[int, list[float]]], text: str):
        super().__init__(target, text, image_id)
        self.boxes = boxes  # (category id, bbox [x, y, w, h] pixels)
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


class RemoveBoxesCommand(EditCommand):
    marks_edited = True

    def __init__(self, target: EditTarget, image_id: int, ids: list[int]):
        n = len(ids)
        super().__init__(target, f"Delete {n} box{'es' if n != 1 else ''}", image_id)
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


class SetBoxesCommand(EditCommand):
    """Move or resize boxes. Nudges (merge=True) of the same boxes collapse into one step."""

    marks_edited = True

    def __init__(self, target: EditTarget, image_id: int, bboxes: dict[int, list[float]], text: str,
                 merge: bool = False):
        super().__init__(target, text, image_id)
        self.new = dict(bboxes)  # annotation id -> bbox [x, y, w, h]
        self.old: dict[int, list[float]] = {}
        self.merge_id = NUDGE_ID if merge else -1

    def merge_with(self, other: EditCommand) -> bool:
        if not isinstance(other, SetBoxesCommand) or self.merge_id < 0 or other.merge_id != self.merge_id \
                or other.image_id != self.image_id or set(other.new) != set(self.new):
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


class SetBoxCategoryCommand(EditCommand):
    marks_edited = True

    def __init__(self, target: EditTarget, image_id: int, ids: list[int], category_id: int, name: str):
        super().__init__(target, f"Set class to {name}", image_id)
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


class SetStatusCommand(EditCommand):
    """Mark an image reviewed (or any status), stored on its record (entries.STATUS_KEY)."""

    def __init__(self, target: EditTarget, image_id: int, status: str):
        super().__init__(target, f"Mark {status}", image_id)
        self.status = status
        self.old = _UNSET

    def apply(self, first: bool) -> None:
        if first:
            self.old = self.images.raw_status(self.image_id)
        self.images.set_raw_status(self.image_id, self.status)

    def revert(self) -> None:
        self.images.set_raw_status(self.image_id, self.old)


# -- classes --------------------------------------------------------------------------------------
class AddCategoryCommand(EditCommand):
    def __init__(self, target: EditTarget, name: str, supercategory: str = ""):
        super().__init__(target, f"Add class {name}")
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


class CategoryFieldCommand(EditCommand):
    """Rename, set supercategory or colour: `setter(id, value) -> old value`."""

    def __init__(self, target: EditTarget, category_id: int, setter: Callable, value, text: str):
        super().__init__(target, text)
        self.category_id, self._setter, self.value = category_id, setter, value
        self.old = None

    def apply(self, first: bool) -> None:
        old = self._setter(self.category_id, self.value)
        if first:
            self.old = old

    def revert(self) -> None:
        self._setter(self.category_id, self.old)


def set_category_color(doc, category_id: int, color: str | None) -> str | None:
    """Store a class colour on its COCO record (None: back to the palette), as a document edit
    (journalled). Returns the old one."""
    return doc.set_category_field(category_id, COLOR_KEY, color)


class RecordCommand(EditCommand):
    """Merge or delete a class: the document returns a record that `restore` undoes."""

    def __init__(self, target: EditTarget, text: str, operation: Callable[[], dict]):
        super().__init__(target, text)
        self._operation = operation  # () -> record
        self._record = None

    def apply(self, first: bool) -> None:
        self._record = self._operation() if first else self.doc.reapply(self._record)

    def revert(self) -> None:
        self.doc.restore(self._record)
