"""DecisionJournal: the decisions on predictions (decisions.py) kept in the document's write-ahead
journal, so that a crash loses none of them (no Qt).

The decisions file beside the document is written only when it is saved, since an accepted
decision names an annotation id that only the saved file makes lasting (a decision on an
annotation that was never saved must not come back after the work is dropped: a later box may
take that id). Between saves they travel with the edits, through the session's JournalKeeper:

- every decide / undecide is a journal record `["images/a.jpg", model, [800, 1333], query,
  annotation id | -1 (rejected) | null (undecided)]` (image path relative to the target's folder),
  appended after the edit that made its annotation: a journal that holds the decision holds the
  box, and a replay gives the box the same id;
- every header written (after a save, in a compaction, and once a new document's decisions are
  read) carries the whole book, in the decisions file's own format;
- recovering a journal rebuilds the book as it was at its last whole record: the header's book
  (or, for a journal whose header had none, the file saved beside the document), then the
  records in order.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from detr_core.errors import DatasetError

from .decisions import DecisionBook, relative
from .payloads import Resolution

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
                self._restore(recovered, target)
            else:
                self.book.read(target)  # none when there is no file
        finally:
            self.keeper.restate()

    def _restore(self, recovered, target: Path) -> None:
        state, records = recovered.of(OWNER)
        folder = target.parent
        if state is None:
            self.book.read(target)
        else:
            try:
                self.book.replace(DecisionBook.from_json(state, folder))
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                self.book.clear()
                raise DatasetError(f"{self.keeper.path}: unreadable prediction decisions in the journal, "
                                   f"not applied ({e})") from e
        try:
            for image, model, resolution, query, value in records:
                path = os.path.normpath(folder / image)
                self.book.load_mark(path, str(model), tuple(int(v) for v in resolution), int(query),
                                    None if value is None else int(value))
        except (ValueError, TypeError) as e:
            raise DatasetError(f"{self.keeper.path}: a damaged prediction decision in the journal, "
                               f"the later ones not applied ({e})") from e

