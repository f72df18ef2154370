"""AppState: what the workbench shows (the current image, the box selection, class visibility,
the list filter) and the signals that say when any of it changes.

The document's data lives in the Qt-free layer `app/document/`: the image list with each image's
status (entries.py), the list filter (image_filter.py), and every edit as an undoable command
(commands.py) built by the AnnotationEditor (editing.py) that AppState owns as `state.edits`.
AppState gives the editor the session's one undo stack (app/commands.py) and turns the
editor's notes into its signals. Widgets receive AppState in their constructor, call its methods
(or `state.edits`) to change things and subscribe to its signals; they never call each other.

`current_image` is the decoded picture on screen (EXIF applied, the same pixels the detector sees).
AppState builds neither the model side nor the training side: the window (MainWindow) composes
them and sets `state.model` (app/model/model_state.py: detector, predictions, attention view) and
`state.training` (app/training/training_state.py: the fine-tuning job and run history), which
their own widgets read.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QColor, QImage

from .colors import category_color
from .commands import ActionStack, UndoStackHistory
from .document.editing import BUSY_MESSAGE, AnnotationEditor
from .document.entries import ImageEntry, ImageList, size_mismatch
from .document.image_filter import ImageFilter, matches
from .document.image_loader import ImageLoader

if TYPE_CHECKING:
    from .model.model_state import ModelState
    from .training.training_state import TrainingState


class _EditNotes:
    """The editor's EditNotify, as AppState's signals."""

    def __init__(self, state: "AppState"):
        self._state = state

    def image_edited(self, image_id: int) -> None:
        state = self._state
        row = state.images.row_of_image(image_id)
        state.annotations_changed.emit(image_id)
        if row is not None:
            state.image_changed.emit(row)

    def row_changed(self, row: int) -> None:
        self._state.image_changed.emit(row)

    def categories_edited(self) -> None:
        state = self._state
        existing = {a["id"] for a in state.current_annotations()}
        state.set_selection([i for i in state.selection if i in existing])
        state.hidden_categories &= {c["id"] for c in state.categories()}
        state.categories_changed.emit()

    def reveal_image(self, image_id: int) -> None:
        state = self._state
        row = state.images.row_of_image(image_id)
        if row is not None and row != state.current_row:
            state.go_to(row)

    def select(self, ids: list[int]) -> None:
        self._state.set_selection(ids)

    def say(self, text: str) -> None:
        self._state.message.emit(text)


class AppState(QObject):
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
        self.images = ImageList()
        self.root: Path | None = None
        self.current_row = -1
        self.current_image: QImage | None = None
        self.selection: list[int] = []
        self.hidden_categories: set[int] = set()
        self.boxes_visible = True
        self.labels_visible = True  # class-name tags on the boxes
        self.filter = ImageFilter()
        self.advance_after_review = False
        self.undo_stack = ActionStack(self)  # each step one user action for the journal (session)
        self.undo_stack.cleanChanged.connect(self._on_undo_stack_clean_changed)
        self.undo_stack.refused.connect(self._on_undo_stack_refused)
        self.edits = AnnotationEditor(UndoStackHistory(self.undo_stack), _EditNotes(self))
        self.loader = loader or ImageLoader(parent=self)
        self.loader.loaded.connect(self._on_loader_loaded)
        self.loader.failed.connect(self._on_loader_failed)
        self.model: ModelState | None = None  # set by the window that composes the model side
        self.training: TrainingState | None = None  # set by the window that composes training

    # -- the document -----------------------------------------------------------------------------
    def install(self, document, entries: list[ImageEntry], root: Path | None,
                select_path: str | None = None, unsaved: bool = False) -> None:
        """Start working on `document` and `entries` (the result of opening something)."""
        self.undo_stack.clear()
        self.document, self.images, self.root = document, ImageList(document, entries), root
        self.edits.reset(document, self.images)
        self.selection, self.hidden_categories, self.boxes_visible = [], set(), True
        filter_was_active, self.filter = self.filter.is_active(), ImageFilter()
        self.current_row, self.current_image = -1, None
        self.loader.forget()
        if unsaved:
            self.undo_stack.resetClean()
        self.document_opened.emit()
        if filter_was_active:
            self.filter_changed.emit()
        self.dirty_changed.emit(self.is_dirty())
        start = self.images.row_of_path(select_path) if select_path else 0
        self.go_to((start or 0) if entries else -1)

    def is_dirty(self) -> bool:
        return self.document is not None and not self.undo_stack.isClean()

    @Slot(bool)
    def _on_undo_stack_clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(self.document is not None and not clean)

    @Slot()
    def _on_undo_stack_refused(self) -> None:
        self.message.emit(BUSY_MESSAGE)

    @property
    def busy(self) -> bool:
        """A save is writing the document on a worker: edits, undo and redo, and decisions on
        predictions are refused with a message (the worker serialises the document and the
        decisions as they were when it began)."""
        return self.edits.busy

    def set_busy(self, busy: bool) -> None:
        self.edits.busy = self.undo_stack.locked = busy
        self.busy_changed.emit(busy)

    def mark_saved(self) -> None:
        self.undo_stack.setClean()

    def shutdown(self) -> None:
        self.loader.shutdown()

    # -- images -----------------------------------------------------------------------------------
    @property
    def entries(self) -> list[ImageEntry]:
        return self.images.entries

    def row_count(self) -> int:
        return len(self.images)

    def entry(self, row: int) -> ImageEntry:
        return self.images[row]

    def current_entry(self) -> ImageEntry | None:
        return self.images[self.current_row] if self.images.has_row(self.current_row) else None

    def row_of_path(self, path: str) -> int | None:
        return self.images.row_of_path(path)

    def annotations(self, row: int) -> list[dict]:
        return self.images.annotations(row)

    def current_annotations(self) -> list[dict]:
        return self.annotations(self.current_row) if self.current_entry() else []

    def status(self, row: int) -> str:
        return self.images.status(row)

    def matches(self, row: int) -> bool:
        """Whether `row` passes the list filter."""
        return matches(self.filter, self.images, row)

    def set_filter(self, image_filter: ImageFilter) -> None:
        self.filter = image_filter
        self.filter_changed.emit()

    # -- navigation -------------------------------------------------------------------------------
    def go_to(self, row: int) -> None:
        if not -1 <= row < len(self.images):
            return
        self.current_row, self.current_image = row, None
        self.set_selection([])
        self.current_changed.emit(row)
        entries = self.images
        if row >= 0 and entries[row].error is not None:  # known bad: say so at once
            self.image_failed.emit(row, entries[row].error)
            self.message.emit(entries[row].error)
        if row >= 0:
            after, before = self._neighbour(row, 1), self._neighbour(row, -1)
            prefetch = [entries[r].path for r in (after, before) if r is not None]
            self.loader.request(entries[row].path, prefetch)

    def go_next(self, step: int = 1) -> None:
        """Next (step=1) or previous (-1) image that passes the filter."""
        row = self._neighbour(self.current_row, step)
        if row is None:
            self.message.emit("Last image." if step > 0 else "First image.")
        else:
            self.go_to(row)

    def go_next_unreviewed(self) -> None:
        n = len(self.images)
        for k in range(1, n + 1):
            row = (self.current_row + k) % n
            if self.status(row) != "reviewed" and self.matches(row):
                self.go_to(row)
                return
        self.message.emit("Every image in the list is reviewed.")

    def _neighbour(self, row: int, step: int) -> int | None:
        r = row + step
        while 0 <= r < len(self.images):
            if self.matches(r):
                return r
            r += step
        return None

    @Slot(str, QImage)
    def _on_loader_loaded(self, path: str, picture: QImage) -> None:
        row = self.images.row_of_path(path)
        if row is None:
            return
        entry = self.images[row]
        entry.size = (picture.width(), picture.height())
        if entry.error is not None:
            entry.error = None
            self.image_changed.emit(row)
        if row == self.current_row:
            self.current_image = picture
            mismatch = size_mismatch(entry, self.document)
            if mismatch:
                self.message.emit(mismatch)
            self.image_loaded.emit(row, picture)

    @Slot(str, str)
    def _on_loader_failed(self, path: str, message: str) -> None:
        row = self.images.row_of_path(path)
        if row is None:
            return
        self.images[row].error = message
        self.image_changed.emit(row)
        if row == self.current_row:
            self.image_failed.emit(row, message)
            self.message.emit(message)

    # -- classes ----------------------------------------------------------------------------------
    def categories(self) -> list[dict]:
        return list(self.document.categories) if self.document is not None else []

    def category_name(self, category_id: int) -> str:
        return self.edits.category_name(category_id)

    def category_color(self, category_id: int) -> QColor:
        known = self.edits.has_category(category_id)
        return category_color(self.document.category(category_id) if known else {"id": category_id})

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

    # -- edits of what is on screen (the current image, the selected boxes): see state.edits ---------
    def add_box(self, bbox, category_id: int) -> int | None:
        """Add a box of class `category_id` to the current image; returns its annotation id."""
        ids = self.edits.add_boxes(self.current_row, [(category_id, bbox)])
        return ids[0] if ids else None

    def add_box_with_new_category(self, bbox, name: str) -> int | None:
        """Create class `name` and add a box of it to the current image, as one undo step."""
        return self.edits.add_box_with_new_category(self.current_row, bbox, name)

    def set_bboxes(self, bboxes: dict[int, list[float]], nudge: bool = False) -> None:
        """Move or resize boxes of the current image (one undo step)."""
        self.edits.set_bboxes(self.current_row, bboxes, nudge)

    def nudge_selection(self, dx: float, dy: float) -> None:
        """Move the selected boxes by (dx, dy) pixels, stopping at the image border."""
        self.edits.nudge(self.current_row, self.selection, dx, dy)

    def set_selection_category(self, category_id: int) -> None:
        self.edits.set_boxes_category(self.current_row, self.selection, category_id)

    def mark_reviewed(self) -> None:
        """Space: the current image's boxes are checked. Optionally go on to the next unreviewed."""
        if self.current_entry() is None:
            return
        if self.status(self.current_row) == "reviewed":
            self.message.emit("Already reviewed.")
        else:
            self.edits.set_status(self.current_row, "reviewed")
        if self.advance_after_review:
            self.go_next_unreviewed()
