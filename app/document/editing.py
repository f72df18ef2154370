"""AnnotationEditor: every edit of the document, each built as one undoable command. No Qt.

AppState owns one; widgets reach it as `state.edits` (AppState keeps the few edits of "the boxes
selected on screen", which pass its current row and selection here). Every edit that takes more
than one command is one undo step through `undo_step(text)`. Boxes are COCO [x, y, width, height]
in image pixels. Rows are positions in the ImageList.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol

from detr_core.coco.validate import bbox_problem
from detr_core.errors import ImageError
from detr_core.images import image_size

from . import commands as cmd
from .entries import ImageList

NUDGE_SMALL, NUDGE_LARGE = 1.0, 10.0  # arrow keys, Shift+arrow keys (image pixels)
DUPLICATE_OFFSET = 10.0
BUSY_MESSAGE = "Saving… that change was not made; please try again once it is written."


class UndoHistory(Protocol):
    """Where commands go: the session's undo stack (app/commands.py over a QUndoStack)."""

    def push(self, command: cmd.EditCommand) -> bool: ...  # apply and record; False: refused
    def begin(self, text: str) -> None: ...  # the following pushes are one undo step...
    def end(self) -> None: ...  # ...until here


def tidy_bbox(bbox) -> list[float]:
    """[x, y, w, h] rounded to 1/100 pixel, so the JSON stays readable."""
    return [round(float(v), 2) for v in bbox]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 'es' if word.endswith('x') else 's'}"


class AnnotationEditor:
    def __init__(self, history: UndoHistory, notify: cmd.EditNotify):
        self.history, self.notify = history, notify
        self.document = None  # detr_core.coco.CocoDocument, or None: nothing open
        self.images = ImageList()
        self.busy = False  # a save is writing the document: edits are refused with a message
        self.last_category_id: int | None = None  # the class of the last box drawn or set
        self._depth = 0  # open undo_step()s

    def reset(self, document, images: ImageList) -> None:
        """Edit `document` and `images` from now on (a document was opened or closed)."""
        self.document, self.images = document, images
        cats = list(document.categories) if document is not None else []
        self.last_category_id = cats[0]["id"] if cats else None

    @property
    def target(self) -> cmd.EditTarget:
        return cmd.EditTarget(self.document, self.images, self.notify)

    @contextmanager
    def undo_step(self, text: str) -> Iterator[None]:
        """The edits made inside are one undo step called `text` (nested steps join the outer)."""
        if self._depth or self.busy:  # busy: every push inside is refused; no empty step
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth += 1
        self.history.begin(text)
        try:
            yield
        finally:
            self._depth -= 1
            self.history.end()

    def push(self, command: cmd.EditCommand) -> bool:
        """Apply `command` and record it, unless a save is writing the document."""
        if self.busy:
            self.notify.say(BUSY_MESSAGE)
            if command.image_id is not None:
                self.notify.image_edited(command.image_id)  # views drop what the user dragged
            return False
        return self.history.push(command)

    def _push_on_image(self, row: int, text: str, make_command) -> cmd.EditCommand | None:
        """Push `make_command(image_id)`; an image without a COCO record gets one first, in the
        same undo step. Returns the command, or None if it was not applied."""
        entry = self.images[row]
        if entry.image_id is not None:
            command = make_command(entry.image_id)
            return command if self.push(command) else None
        if self.busy:
            self.notify.say(BUSY_MESSAGE)
            return None
        try:
            width, height = entry.size or image_size(entry.path)  # header only, one file
        except ImageError as e:
            self.notify.say(str(e))
            return None
        with self.undo_step(text):
            if not self.push(cmd.AddImageCommand(self.target, row, width, height)):
                return None
            command = make_command(entry.image_id)
            self.push(command)
        return None if command.failed else command

    # -- classes: look-ups --------------------------------------------------------------------------
    def has_category(self, category_id: int) -> bool:
        if self.document is None:
            return False
        try:
            self.document.category(category_id)  # the document's index: O(1)
        except KeyError:
            return False
        return True

    def category_name(self, category_id: int) -> str:
        record = self.document.category(category_id) if self.has_category(category_id) else None
        return record["name"] if record else f"#{category_id}"

    # -- boxes ------------------------------------------------------------------------------------
    def add_boxes(self, row: int, boxes: list[tuple[int, list[float]]], text: str | None = None) -> list[int]:
        """Add boxes [(category id, [x, y, w, h])] to image `row` as one undo step (e.g. accepted
        predictions); returns their annotation ids ([] if nothing was added)."""
        boxes = [(cat, tidy_bbox(bbox)) for cat, bbox in boxes
                 if self.has_category(cat) and bbox_problem(list(bbox)) is None]
        if self.document is None or not self.images.has_row(row) or not boxes:
            return []
        text = text or (f"Add {self.category_name(boxes[0][0])} box" if len(boxes) == 1
                        else f"Add {_plural(len(boxes), 'box')}")
        command = self._push_on_image(
            row, text, lambda image_id: cmd.AddBoxesCommand(self.target, image_id, boxes, text))
        if command is None:
            return []
        self.last_category_id = boxes[-1][0]
        return list(command.ids)

    def add_box_with_new_category(self, row: int, bbox, name: str) -> int | None:
        """Create class `name` and add a box of it to image `row`, as one undo step."""
        if self.busy or not self.images.has_row(row) or not self._valid_new_name(name):
            return None
        with self.undo_step(f"Add {name.strip()} box"):
            category_id = self.add_category(name)
            ids = self.add_boxes(row, [(category_id, bbox)]) if category_id is not None else []
        return ids[0] if ids else None

    def set_bboxes(self, row: int, bboxes: dict[int, list[float]], nudge: bool = False) -> None:
        """Move or resize boxes of image `row` (one undo step; nudges of the same boxes merge)."""
        image_id = self.images[row].image_id if self.images.has_row(row) else None
        if image_id is None or not bboxes:
            return
        text = f"{'Nudge' if nudge else 'Move/resize'} {_plural(len(bboxes), 'box')}"
        self.push(cmd.SetBoxesCommand(self.target, image_id, {k: tidy_bbox(v) for k, v in bboxes.items()},
                                      text, merge=nudge))

    def nudge(self, row: int, ids: list[int], dx: float, dy: float) -> None:
        """Move boxes `ids` of image `row` by (dx, dy) pixels, stopping at the image border."""
        if not self.images.has_row(row):
            return
        boxes = {a["id"]: a["bbox"] for a in self.images.annotations(row) if a["id"] in ids}
        if not boxes:
            return
        width, height = self.images[row].size or (float("inf"), float("inf"))
        for x, y, w, h in boxes.values():  # the whole selection stops at the first border
            dx = min(max(dx, min(-x, 0.0)), max(width - (x + w), 0.0))
            dy = min(max(dy, min(-y, 0.0)), max(height - (y + h), 0.0))
        if dx or dy:
            self.set_bboxes(row, {i: [x + dx, y + dy, w, h] for i, (x, y, w, h) in boxes.items()}, nudge=True)

    def delete_boxes(self, row: int, ids: list[int]) -> None:
        image_id = self.images[row].image_id if self.images.has_row(row) else None
        if image_id is not None and ids:
            self.push(cmd.RemoveBoxesCommand(self.target, image_id, ids))

    def duplicate_boxes(self, row: int, ids: list[int]) -> None:
        """Copy boxes `ids`, shifted down-right (inside the image); the copies get selected."""
        if not self.images.has_row(row):
            return
        entry = self.images[row]
        chosen = [a for a in self.images.annotations(row) if a["id"] in ids]
        if not chosen:
            return
        width, height = entry.size or (float("inf"), float("inf"))
        copies = []
        for ann in chosen:
            x, y, w, h = ann["bbox"]
            x = min(x + DUPLICATE_OFFSET, max(width - w, 0.0))
            y = min(y + DUPLICATE_OFFSET, max(height - h, 0.0))
            copies.append((ann["category_id"], tidy_bbox([x, y, w, h])))
        self.push(cmd.AddBoxesCommand(self.target, entry.image_id, copies,
                                      f"Duplicate {_plural(len(copies), 'box')}"))

    def set_boxes_category(self, row: int, ids: list[int], category_id: int) -> None:
        image_id = self.images[row].image_id if self.images.has_row(row) else None
        if image_id is None or not ids:
            self.notify.say("Select a box first.")
            return
        name = self.category_name(category_id)
        if self.push(cmd.SetBoxCategoryCommand(self.target, image_id, ids, category_id, name)):
            self.last_category_id = category_id

    def set_boxes_category_number(self, row: int, ids: list[int], number: int) -> None:
        """Number keys: 1 is the first class of the document, 9 the ninth."""
        cats = list(self.document.categories) if self.document is not None else []
        if not 1 <= number <= len(cats):
            self.notify.say(f"There is no class {number}; the document has {len(cats)}.")
            return
        self.set_boxes_category(row, ids, cats[number - 1]["id"])

    # -- image status -------------------------------------------------------------------------------
    def set_status(self, row: int, status: str) -> None:
        """Set an image's status (undoable); e.g. "predicted" from the model dock."""
        if self.document is None or not self.images.has_row(row) or self.images.status(row) == status:
            return
        self._push_on_image(row, f"Mark {status}",
                            lambda image_id: cmd.SetStatusCommand(self.target, image_id, status))

    # -- classes --------------------------------------------------------------------------------------
    def _valid_new_name(self, name: str, keep_id: int | None = None) -> bool:
        name = name.strip()
        if not name:
            self.notify.say("A class needs a name.")
            return False
        existing = self.document.category_by_name(name)
        if existing is not None and existing["id"] != keep_id:
            self.notify.say(f"There is already a class called {name}.")
            return False
        return True

    def add_category(self, name: str, supercategory: str = "") -> int | None:
        if self.document is None or not self._valid_new_name(name):
            return None
        command = cmd.AddCategoryCommand(self.target, name.strip(), supercategory.strip())
        return command.category_id if self.push(command) else None

    def rename_category(self, category_id: int, name: str) -> None:
        if self._valid_new_name(name, keep_id=category_id):
            old = self.category_name(category_id)
            self.push(cmd.CategoryFieldCommand(self.target, category_id, self.document.rename_category,
                                               name.strip(), f"Rename class {old} to {name.strip()}"))

    def set_supercategory(self, category_id: int, supercategory: str) -> None:
        self.push(cmd.CategoryFieldCommand(self.target, category_id, self.document.set_supercategory,
                                           supercategory.strip(),
                                           f"Set supercategory of {self.category_name(category_id)}"))

    def set_category_color(self, category_id: int, color: str | None) -> None:
        """`color` "#rrggbb", or None for the default palette colour."""
        doc = self.document
        self.push(cmd.CategoryFieldCommand(
            self.target, category_id, lambda i, c: cmd.set_category_color(doc, i, c), color,
            f"Recolour class {self.category_name(category_id)}"))

    def merge_categories(self, source_id: int, target_id: int) -> None:
        """Every box of `source_id` becomes `target_id`; `source_id` goes away."""
        if source_id == target_id:
            return
        src, dst, doc = self.category_name(source_id), self.category_name(target_id), self.document
        self.push(cmd.RecordCommand(self.target, f"Merge class {src} into {dst}",
                                    lambda: doc.merge_categories(source_id, target_id)))

    def remove_category(self, category_id: int, boxes: str = "delete", target_id: int | None = None) -> None:
        """Delete a class; its boxes are deleted (boxes="delete") or become `target_id`
        (boxes="keep-as")."""
        name, doc = self.category_name(category_id), self.document
        self.push(cmd.RecordCommand(
            self.target, f"Delete class {name}",
            lambda: doc.remove_category(category_id, boxes=boxes, target_id=target_id)))
