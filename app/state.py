"""AppState: the one owner of what the workbench is working on, and the signals that say so.

It holds the COCO document, the list of images, the current image, the box selection, class
visibility, the list filter and the session's undo stack. Widgets receive it in their
constructor, call its methods to change things and subscribe to its signals; they never call
each other. Every document edit is a QUndoCommand (commands.py) pushed here.

Per-image status (unlabelled / predicted / edited / reviewed) is workbench state kept in the
COCO file itself, as the key "workbench_status" on the image record: unknown keys survive a
load/save, other tools ignore them, and the training loader can read it (e.g. to skip images that
are not labelled yet). An image without the key is "edited" when it has boxes (labelled, not yet
reviewed here) and "unlabelled" otherwise. An image of a folder gets its COCO record with its
first edit or mark (in the same undo step), so the saved file lists exactly the images that were
worked on, and undoing everything gives back the document as it was.

Room for the model dock: `current_image` is the decoded picture on screen (EXIF applied, the
same pixels the detector sees) and `set_status(row, "predicted")` marks predicted images.
`state.model` (app/model/model_state.py) holds the detector's side: the loaded model, predictions
per image, the threshold and the selected query, with its own signals.
`state.training` (app/training/training_state.py) holds fine-tuning: the job (a child process),
its live run and the run history, with its own signals.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QColor, QImage, QUndoStack

from . import commands as cmd
from .colors import category_color
from .image_filter import ImageFilter
from .image_loader import ImageLoader
from .model.model_state import ModelState
from .state_edits import EditsMixin
from .training.training_state import TrainingState

STATUSES = ("unlabelled", "predicted", "edited", "reviewed")
STATUS_KEY = "workbench_status"


@dataclass
class ImageEntry:
    path: str  # absolute path of the file
    name: str  # as listed: relative to the opened folder or image root
    image_id: int | None = None  # the COCO image id, once the document has a record
    size: tuple[int, int] | None = None  # (width, height) after EXIF orientation, once decoded
    error: str | None = None  # why it cannot be shown, once known


class AppState(QObject, EditsMixin):
    document_opened = Signal()  # a new document and image list are in place (or none)
    current_changed = Signal(int)  # row of the image now on screen (-1: none)
    image_loaded = Signal(int, QImage)  # row, its decoded picture
    image_failed = Signal(int, str)  # row, one-line message
    image_changed = Signal(int)  # row whose status, box count or error mark changed
    annotations_changed = Signal(int)  # image id whose boxes changed
    categories_changed = Signal()  # classes added, renamed, merged, deleted or recoloured
    visibility_changed = Signal()  # classes or all boxes hidden / shown
    selection_changed = Signal(list)  # selected annotation ids
    filter_changed = Signal()
    dirty_changed = Signal(bool)  # unsaved edits or not
    busy_changed = Signal(bool)  # a save is writing the document; edits wait
    message = Signal(str)  # a one-line note for the status bar

    def __init__(self, loader: ImageLoader | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.document = None  # detr_core.coco.CocoDocument
        self.entries: list[ImageEntry] = []
        self.root: Path | None = None
        self.current_row = -1
        self.current_image: QImage | None = None
        self.selection: list[int] = []
        self.hidden_categories: set[int] = set()
        self.boxes_visible = True
        self.labels_visible = True  # class-name tags on the boxes
        self.filter = ImageFilter()
        self.last_category_id: int | None = None
        self.advance_after_review = False
        self.busy = False
        self._row_of_image: dict[int, int] = {}
        self._row_of_path: dict[str, int] = {}
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_undo_stack_clean_changed)
        self.loader = loader or ImageLoader(parent=self)
        self.loader.loaded.connect(self._on_loader_loaded)
        self.loader.failed.connect(self._on_loader_failed)
        self.model = ModelState(self)  # detector, predictions, attention view (its own signals)
        self.training = TrainingState(self)  # fine-tuning job, its live run, run history

    # -- the document -----------------------------------------------------------------------------
    def install(self, document, entries: list[ImageEntry], root: Path | None,
                select_path: str | None = None, unsaved: bool = False) -> None:
        """Start working on `document` and `entries` (the result of opening something)."""
        self.undo_stack.clear()
        self.document, self.entries, self.root = document, entries, root
        self._row_of_image = {e.image_id: i for i, e in enumerate(entries) if e.image_id is not None}
        self._row_of_path = {e.path: i for i, e in enumerate(entries)}
        self.selection, self.hidden_categories, self.boxes_visible = [], set(), True
        filter_was_active, self.filter = self.filter.is_active(), ImageFilter()
        self.current_row, self.current_image = -1, None
        self.loader.forget()
        cats = self.categories()
        self.last_category_id = cats[0]["id"] if cats else None
        if unsaved:
            self.undo_stack.resetClean()
        self.document_opened.emit()
        if filter_was_active:
            self.filter_changed.emit()
        self.dirty_changed.emit(self.is_dirty())
        start = self._row_of_path.get(select_path, 0) if select_path else 0
        self.go_to(start if entries else -1)

    def is_dirty(self) -> bool:
        return self.document is not None and not self.undo_stack.isClean()

    @Slot(bool)
    def _on_undo_stack_clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(self.document is not None and not clean)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.busy_changed.emit(busy)

    def mark_saved(self) -> None:
        self.undo_stack.setClean()

    def shutdown(self) -> None:
        self.loader.shutdown()
        self.model.shutdown()
        self.training.shutdown()

    # -- images -----------------------------------------------------------------------------------
    def row_count(self) -> int:
        return len(self.entries)

    def entry(self, row: int) -> ImageEntry:
        return self.entries[row]

    def current_entry(self) -> ImageEntry | None:
        return self.entries[self.current_row] if 0 <= self.current_row < len(self.entries) else None

    def row_of_path(self, path: str) -> int | None:
        return self._row_of_path.get(path)

    def annotations(self, row: int) -> list[dict]:
        image_id = self.entries[row].image_id
        if image_id is None or self.document is None:
            return []
        return self.document.annotations_for(image_id)

    def current_annotations(self) -> list[dict]:
        return self.annotations(self.current_row) if self.current_entry() else []

    def raw_status(self, image_id: int) -> str | None:
        return self.document.image(image_id).get(STATUS_KEY)

    def set_raw_status(self, image_id: int, status: str | None) -> None:
        self.document.set_image_field(image_id, STATUS_KEY, status)  # an edit: journalled

    def status(self, row: int) -> str:
        entry = self.entries[row]
        if entry.image_id is None:
            return "unlabelled"
        stored = self.raw_status(entry.image_id)
        if stored in STATUSES:
            return stored
        return "edited" if self.document.annotations_for(entry.image_id) else "unlabelled"

    def matches(self, row: int) -> bool:
        """Whether `row` passes the list filter."""
        return self.filter.accepts(self, row)

    def set_filter(self, image_filter: ImageFilter) -> None:
        self.filter = image_filter
        self.filter_changed.emit()

    # -- navigation -------------------------------------------------------------------------------
    def go_to(self, row: int) -> None:
        if not -1 <= row < len(self.entries):
            return
        self.current_row, self.current_image = row, None
        self.set_selection([])
        self.current_changed.emit(row)
        if row >= 0 and self.entries[row].error is not None:  # known bad: say so at once
            self.image_failed.emit(row, self.entries[row].error)
            self.message.emit(self.entries[row].error)
        if row >= 0:
            after, before = self._neighbour(row, 1), self._neighbour(row, -1)
            prefetch = [self.entries[r].path for r in (after, before) if r is not None]
            self.loader.request(self.entries[row].path, prefetch)

    def go_next(self, step: int = 1) -> None:
        """Next (step=1) or previous (-1) image that passes the filter."""
        row = self._neighbour(self.current_row, step)
        if row is None:
            self.message.emit("Last image." if step > 0 else "First image.")
        else:
            self.go_to(row)

    def go_next_unreviewed(self) -> None:
        n = len(self.entries)
        for k in range(1, n + 1):
            row = (self.current_row + k) % n
            if self.status(row) != "reviewed" and self.matches(row):
                self.go_to(row)
                return
        self.message.emit("Every image in the list is reviewed.")

    def reveal_image(self, image_id: int) -> None:
        """Bring the image `image_id` on screen (undo/redo of an edit made there)."""
        row = self._row_of_image.get(image_id)
        if row is not None and row != self.current_row:
            self.go_to(row)

    def _neighbour(self, row: int, step: int) -> int | None:
        r = row + step
        while 0 <= r < len(self.entries):
            if self.matches(r):
                return r
            r += step
        return None

    @Slot(str, QImage)
    def _on_loader_loaded(self, path: str, picture: QImage) -> None:
        row = self._row_of_path.get(path)
        if row is None:
            return
        entry = self.entries[row]
        entry.size = (picture.width(), picture.height())
        if entry.error is not None:
            entry.error = None
            self.image_changed.emit(row)
        if row == self.current_row:
            self.current_image = picture
            self._check_recorded_size(entry)
            self.image_loaded.emit(row, picture)

    @Slot(str, str)
    def _on_loader_failed(self, path: str, message: str) -> None:
        row = self._row_of_path.get(path)
        if row is None:
            return
        self.entries[row].error = message
        self.image_changed.emit(row)
        if row == self.current_row:
            self.image_failed.emit(row, message)
            self.message.emit(message)

    def _check_recorded_size(self, entry: ImageEntry) -> None:
        if entry.image_id is None:
            return
        record = self.document.image(entry.image_id)
        recorded = (record.get("width"), record.get("height"))
        if recorded != entry.size and None not in recorded:
            self.message.emit(f"{entry.name}: the file is {entry.size[0]}x{entry.size[1]} (EXIF "
                              f"orientation applied), the COCO record says {recorded[0]}x{recorded[1]}")

    # -- classes ----------------------------------------------------------------------------------
    def categories(self) -> list[dict]:
        return list(self.document.categories) if self.document is not None else []

    def has_category(self, category_id: int) -> bool:
        return any(c["id"] == category_id for c in self.categories())

    def _category(self, category_id: int) -> dict | None:
        try:
            return self.document.category(category_id) if self.document is not None else None
        except KeyError:
            return None

    def category_name(self, category_id: int) -> str:
        record = self._category(category_id)
        return record["name"] if record else f"#{category_id}"

    def category_color(self, category_id: int) -> QColor:
        return category_color(self._category(category_id) or {"id": category_id})

    def category_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for ann in self.document.annotations if self.document is not None else []:
            counts[ann["category_id"]] = counts.get(ann["category_id"], 0) + 1
        return counts

    def is_category_visible(self, category_id: int) -> bool:
        return self.boxes_visible and category_id not in self.hidden_categories

    def set_category_visible(self, category_id: int, visible: bool) -> None:
        (self.hidden_categories.discard if visible else self.hidden_categories.add)(category_id)
        self.visibility_changed.emit()

    def set_labels_visible(self, visible: bool) -> None:
        self.labels_visible = visible
        self.visibility_changed.emit()

    def set_boxes_visible(self, visible: bool) -> None:
        self.boxes_visible = visible
        self.visibility_changed.emit()

    # -- selection --------------------------------------------------------------------------------
    def set_selection(self, ids: list[int]) -> None:
        ids = list(ids)
        if ids != self.selection:
            self.selection = ids
            self.selection_changed.emit(ids)

    # -- edits (each one undoable) ------------------------------------------------------------------
    def push(self, command: cmd.StateCommand) -> bool:
        """Apply `command` and put it on the undo stack, unless a save is writing the document."""
        if self.busy:
            self.message.emit("Saving… that edit was not applied; please try again.")
            if command.image_id is not None:
                self.notify_image(command.image_id)
            return False
        self.undo_stack.push(command)
        return not command.failed

    def attach_image_id(self, row: int, image_id: int | None) -> None:
        """Record that `row` now has (or no longer has) a COCO image record (used by commands)."""
        entry = self.entries[row]
        if entry.image_id is not None:
            self._row_of_image.pop(entry.image_id, None)
        entry.image_id = image_id
        if image_id is not None:
            self._row_of_image[image_id] = row

    def notify_image(self, image_id: int) -> None:
        """Tell views that an image's boxes or status changed (used by commands)."""
        row = self._row_of_image.get(image_id)
        self.annotations_changed.emit(image_id)
        if row is not None:
            self.image_changed.emit(row)

    def notify_categories(self) -> None:
        existing = {a["id"] for a in self.current_annotations()}
        self.set_selection([i for i in self.selection if i in existing])
        self.hidden_categories &= {c["id"] for c in self.categories()}
        self.categories_changed.emit()
