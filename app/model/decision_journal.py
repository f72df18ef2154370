"""DecisionJournal: the decisions on predictions (decisions.py) kept in the document's write-ahead
journal, so that a crash loses none of them (no Qt).

The decisions file beside the document is written only when the document is its saved file (on
save, on a decision with nothing else unsaved, on an undo back to the saved state: ModelState),
since an accepted decision names an annotation id that only the saved file makes lasting (a
decision on an annotation that was never saved must not come back after the work is dropped: a
later box may take that id). Between saves they travel with the edits, through the session's
JournalKeeper:

- every decide / undecide is a journal record `["images/a.jpg", model, [800, 1333], query,
  annotation id | -1 (rejected) | null (undecided)]` (image path relative to the target's folder),
  appended after the edit that made its annotation, in the same frame (an accept is one user
  action: PredictionAcceptor): a journal holds both or neither, and a replay gives the box the
  same id;
- every header written (after a save, in a compaction, and once a new document's decisions are
  read) carries the whole book, in the decisions file's own format;
- recovering a journal rebuilds the book as it was at its last whole frame: the header's book
  (or, for a journal whose header had none, the file saved beside the document), then the
  records in order;
- a journal whose edits give back the saved file exactly (every edit undone before the crash)
  is not offered for recovery; if it holds decisions the decisions file lacks, `settle` writes
  them beside the file first (on the open's worker thread), so they are there when it opens.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from detr_core.coco import CocoDocument
from detr_core.errors import DatasetError

from .decisions import DecisionBook, relative, sidecar_for
from .payloads import Resolution

log = logging.getLogger(__name__)

OWNER = "decisions"  # the name of these extras in the journal


class DecisionJournal:
    """`keeper`: the session's JournalKeeper; `target()`: the file Save writes (None: no
    document); `recovered()`: the extras of the journal the open document was recovered from
    (None: not recovered)."""

    def __init__(self, book: DecisionBook, keeper, target: Callable[[], Path | None],
                 recovered: Callable[[], object | None]):
        self.book = book
        self.keeper = keeper
        self.target = target
        self.recovered = recovered
        book.listeners.append(self._on_book_decided)
        keeper.extras = self.extras
        keeper.settle = settle

    def extras(self) -> dict:
        """For a journal header: the whole book (every decision, as the decisions file has them)."""
        target = self.target()
        if target is None:
            return {}
        return {OWNER: self.book.to_json(target.parent, lambda _path, _ann_id: True)}

    def _on_book_decided(self, path: str, model: str, resolution: Resolution, query: int,
                         value: int | None) -> None:
        target = self.target()
        if target is not None:
            self.keeper.note(OWNER, [relative(path, target.parent), model, list(resolution), query, value])

    def load(self) -> None:
        """A document was opened: its decisions as recovered from its journal, else as saved
        beside it; the journal's header takes them. DatasetError (one line naming the file) when
        they cannot be read: the book is then what could be read."""
        target = self.target()
        try:
            recovered = self.recovered()
            if target is None:
                self.book.clear()
            elif recovered is not None:
                rebuild_book(self.book, recovered, target, self.keeper.path)
            else:
                self.book.read(target)  # none when there is no file
        finally:
            self.keeper.restate()


def rebuild_book(book: DecisionBook, extras, target: Path, journal: Path | None) -> None:
    """`book` as `extras` (replay.Extras of a journal of the document saved at `target`) leave it:
    their header's book, else the file beside `target`, then their records. DatasetError (one
    line naming the journal or the file) when they cannot be read."""
    state, records = extras.of(OWNER)
    folder = target.parent
    if state is None:
        book.read(target)
    else:
        try:
            book.replace(DecisionBook.from_json(state, folder))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            book.clear()
            raise DatasetError(f"{journal}: unreadable prediction decisions in the journal, "
                               f"not applied ({e})") from e
    try:
        for image, model, resolution, query, value in records:
            path = os.path.normpath(folder / image)
            book.load_mark(path, str(model), tuple(int(v) for v in resolution), int(query),
                           None if value is None else int(value))
    except (ValueError, TypeError) as e:
        raise DatasetError(f"{journal}: a damaged prediction decision in the journal, "
                           f"the later ones not applied ({e})") from e


def settle(document: CocoDocument, target: Path, extras, journal: Path) -> bool:
    """replay.Settle: `journal`'s edits give back `document`, the file at `target` as it opens
    now, but its decisions may be newer than the decisions file (a reject made while edits were
    unsaved, then every edit undone, then a crash). Write them beside the file (atomically; only
    accepted ones whose box is in the document), so they are there when it opens, and the journal
    can go. True when they cannot be kept so (a document never saved, a file that cannot be read
    or written): the journal is then offered for recovery, which restores them."""
    saved, book = DecisionBook(), DecisionBook()
    try:
        saved.read(target)
        rebuild_book(book, extras, target, journal)
    except DatasetError as e:
        log.warning("%s: %s; offering the journal instead", journal, e)
        return True
    alive = {os.path.normpath(str(document.image_path(image["id"]))):
             {a["id"] for a in document.annotations_for(image["id"])} for image in document.images}

    def in_document(path: str, ann_id: int) -> bool:
        return ann_id in alive.get(path, ())

    if book.to_json(target.parent, in_document) == saved.to_json(target.parent, in_document):
        return False  # nothing beyond the decisions file
    if document.path is None:
        return True  # never saved: only a recovered document can carry them to a save
    try:
        book.write(target, in_document)
    except DatasetError as e:
        log.warning("%s; offering the journal instead", e)
        return True
    log.info("%s: its prediction decisions kept in %s", journal, sidecar_for(target))
    return False
