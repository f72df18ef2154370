"""The edit methods of AppState: each builds one undoable command (commands.py) and pushes it.

Kept apart from state.py so each file stays one concept: state.py says what is open and on
screen, this file says how it changes. Boxes are COCO [x, y, width, height] in image pixels.
"""
from __future__ import annotations

from detr_core.coco.validate import bbox_problem
from detr_core.errors import ImageError
from detr_core.images import image_size

from . import commands as cmd

NUDGE_SMALL, NUDGE_LARGE = 1.0, 10.0  # arrow keys, Shift+arrow keys (image pixels)
DUPLICATE_OFFSET = 10.0


def tidy_bbox(bbox) -> list[float]:
    """[x, y, w, h] rounded to 1/100 pixel, so the JSON stays readable."""
    return [round(float(v), 2) for v in bbox]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 'es' if word.endswith('x') else 's'}"


class EditsMixin:
    """Mixed into AppState; relies on its document, entries, selection, push and message."""

    def _push_on_image(self, row: int, text: str, make_command) -> cmd.StateCommand | None:
        """Push `make_command(image_id)`; an image without a COCO record gets one first, in the
        same undo step. Returns the command, or None if it was not applied."""
        entry = self.entries[row]
        if entry.image_id is not None:
            command = make_command(entry.image_id)
            return command if self.push(command) else None
        if self.busy:
            self.message.emit("Saving… that edit was not applied; please try again.")
            return None
        try:
            width, height = entry.size or image_size(entry.path)  # header only, one file
        except ImageError as e:
            self.message.emit(str(e))
            return None
        self.undo_stack.beginMacro(text)
        try:
            self.push(cmd.AddImageCommand(self, row, width, height))
            command = make_command(entry.image_id)
            self.push(command)
        finally:
            self.undo_stack.endMacro()
        return None if command.failed else command

    # -- boxes ------------------------------------------------------------------------------------
    def add_boxes(self, row: int, boxes: list[tuple[int, list[float]]], text: str | None = None) -> list[int]:
        """Add boxes [(category id, [x, y, w, h])] to image `row` as one undo step (e.g. accepted
        predictions); returns their annotation ids ([] if nothing was added)."""
        boxes = [(cat, tidy_bbox(bbox)) for cat, bbox in boxes
                 if self.has_category(cat) and bbox_problem(list(bbox)) is None]
        if self.document is None or not 0 <= row < len(self.entries) or not boxes:
            return []
        text = text or (f"Add {self.category_name(boxes[0][0])} box" if len(boxes) == 1
                        else f"Add {_plural(len(boxes), 'box')}")
        command = self._push_on_image(row, text, lambda image_id: cmd.AddBoxesCommand(self, image_id, boxes, text))
        if command is None:
            return []
        self.last_category_id = boxes[-1][0]
        return list(command.ids)

    def add_box(self, bbox, category_id: int) -> int | None:
        """Add a box of class `category_id` to the current image; returns its annotation id."""
        ids = self.add_boxes(self.current_row, [(category_id, bbox)])
        return ids[0] if ids else None

    def add_box_with_new_category(self, bbox, name: str) -> int | None:
        """Create class `name` and add a box of it, as one undo step."""
        if self.busy or self.current_entry() is None or not self._valid_new_name(name):
            return None
        self.undo_stack.beginMacro(f"Add {name.strip()} box")
        try:
            category_id = self.add_category(name)
            ann_id = self.add_box(bbox, category_id) if category_id is not None else None
        finally:
            self.undo_stack.endMacro()
        return ann_id

    def set_bboxes(self, bboxes: dict[int, list[float]], nudge: bool = False) -> None:
        """Move or resize boxes of the current image (one undo step)."""
        entry = self.current_entry()
        if entry is None or entry.image_id is None or not bboxes:
            return
        text = "Nudge" if nudge else "Move/resize"
        self.push(cmd.SetBoxesCommand(self, entry.image_id,
                                      {k: tidy_bbox(v) for k, v in bboxes.items()},
                                      f"{text} {_plural(len(bboxes), 'box')}", merge=nudge))

    def nudge_selection(self, dx: float, dy: float) -> None:
        """Move the selected boxes by (dx, dy) pixels, stopping at the image border."""
        boxes = {a["id"]: a["bbox"] for a in self.current_annotations() if a["id"] in self.selection}
        if not boxes:
            return
        width, height = self.current_entry().size or (float("inf"), float("inf"))
        for x, y, w, h in boxes.values():  # the whole selection stops at the first border
            dx = min(max(dx, min(-x, 0.0)), max(width - (x + w), 0.0))
            dy = min(max(dy, min(-y, 0.0)), max(height - (y + h), 0.0))
        if dx or dy:
            self.set_bboxes({i: [x + dx, y + dy, w, h] for i, (x, y, w, h) in boxes.items()},
                            nudge=True)

    def delete_selection(self) -> None:
        entry = self.current_entry()
        if entry is None or entry.image_id is None or not self.selection:
            return
        self.push(cmd.RemoveBoxesCommand(self, entry.image_id, self.selection))

    def duplicate_selection(self) -> None:
        """Copy the selected boxes, shifted down-right (inside the image); the copies get selected."""
        entry = self.current_entry()
        chosen = [a for a in self.current_annotations() if a["id"] in self.selection]
        if entry is None or not chosen:
            return
        width, height = entry.size or (float("inf"), float("inf"))
        copies = []
        for ann in chosen:
            x, y, w, h = ann["bbox"]
            x = min(x + DUPLICATE_OFFSET, max(width - w, 0.0))
            y = min(y + DUPLICATE_OFFSET, max(height - h, 0.0))
            copies.append((ann["category_id"], tidy_bbox([x, y, w, h])))
        self.push(cmd.AddBoxesCommand(self, entry.image_id, copies,
                                      f"Duplicate {_plural(len(copies), 'box')}"))

    def set_selection_category(self, category_id: int) -> None:
        entry = self.current_entry()
        if entry is None or entry.image_id is None or not self.selection:
            self.message.emit("Select a box first.")
            return
        name = self.category_name(category_id)
        if self.push(cmd.SetBoxCategoryCommand(self, entry.image_id, self.selection, category_id, name)):
            self.last_category_id = category_id

    def set_selection_category_number(self, number: int) -> None:
        """Number keys: 1 is the first class of the document, 9 the ninth."""
        cats = self.categories()
        if not 1 <= number <= len(cats):
            self.message.emit(f"There is no class {number}; the document has {len(cats)}.")
            return
        self.set_selection_category(cats[number - 1]["id"])

    # -- image status -------------------------------------------------------------------------------
    def set_status(self, row: int, status: str) -> None:
        """Set an image's status (undoable); e.g. "predicted" from the model dock."""
        if self.document is None or not 0 <= row < len(self.entries) or self.status(row) == status:
            return
        self._push_on_image(row, f"Mark {status}", lambda image_id: cmd.SetStatusCommand(self, image_id, status))

    def mark_reviewed(self) -> None:
        """Space: the current image's boxes are checked. Optionally go on to the next unreviewed."""
        if self.current_entry() is None:
            return
        if self.status(self.current_row) == "reviewed":
            self.message.emit("Already reviewed.")
        else:
            self.set_status(self.current_row, "reviewed")
        if self.advance_after_review:
            self.go_next_unreviewed()

    # -- classes --------------------------------------------------------------------------------------
    def _valid_new_name(self, name: str, keep_id: int | None = None) -> bool:
        name = name.strip()
        if not name:
            self.message.emit("A class needs a name.")
            return False
        existing = self.document.category_by_name(name)
        if existing is not None and existing["id"] != keep_id:
            self.message.emit(f"There is already a class called {name}.")
            return False
        return True

    def add_category(self, name: str, supercategory: str = "") -> int | None:
        if self.document is None or not self._valid_new_name(name):
            return None
        command = cmd.AddCategoryCommand(self, name.strip(), supercategory.strip())
        return command.category_id if self.push(command) else None

    def rename_category(self, category_id: int, name: str) -> None:
        if self._valid_new_name(name, keep_id=category_id):
            old = self.category_name(category_id)
            self.push(cmd.CategoryFieldCommand(self, category_id, self.document.rename_category,
                                               name.strip(), f"Rename class {old} to {name.strip()}"))

    def set_supercategory(self, category_id: int, supercategory: str) -> None:
        self.push(cmd.CategoryFieldCommand(self, category_id, self.document.set_supercategory,
                                           supercategory.strip(),
                                           f"Set supercategory of {self.category_name(category_id)}"))

    def set_category_color(self, category_id: int, color: str | None) -> None:
        """`color` "#rrggbb", or None for the default palette colour."""
        self.push(cmd.CategoryFieldCommand(
            self, category_id, lambda i, c: cmd.set_category_color(self.document, i, c), color,
            f"Recolour class {self.category_name(category_id)}"))

    def merge_categories(self, source_id: int, target_id: int) -> None:
        """Every box of `source_id` becomes `target_id`; `source_id` goes away."""
        if source_id == target_id:
            return
        src, dst = self.category_name(source_id), self.category_name(target_id)
        self.push(cmd.RecordCommand(self, f"Merge class {src} into {dst}",
                                    lambda: self.document.merge_categories(source_id, target_id)))

    def remove_category(self, category_id: int, boxes: str = "delete",
                        target_id: int | None = None) -> None:
        """Delete a class; its boxes are deleted (boxes="delete") or become `target_id`
        (boxes="keep-as")."""
        name = self.category_name(category_id)
        self.push(cmd.RecordCommand(
            self, f"Delete class {name}",
            lambda: self.document.remove_category(category_id, boxes=boxes, target_id=target_id)))
