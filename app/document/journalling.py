"""JournalKeeper: the edit journal of whatever document is open (no Qt).

It observes the document (every CocoDocument edit, so every command, undo and redo), appends each
change to the journal before the edit returns to the command that shows it, starts a fresh journal
after each save, and compacts (the autosave) or discards it when asked. See journal.py for the file
and its timing, and app/recovery.py for where it lives and how it is replayed.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from detr_core.coco import CocoDocument
from detr_core.coco.changes import Change, encode

from .journal import FLUSH_SECONDS, Journal
from .replay import journal_header


class JournalKeeper:
    """`on_first_edit(path)`: the journal got its first edit since it was started (register it
    for the next start's recovery). `on_error(line or None)`: from the writer thread."""

    def __init__(self, on_first_edit: Callable[[Path], None] | None = None,
                 on_error: Callable[[str | None], None] | None = None,
                 flush_seconds: float = FLUSH_SECONDS):
        self.on_first_edit = on_first_edit
        self.on_error = on_error
        self.flush_seconds = flush_seconds
        self.journal: Journal | None = None
        self.document: CocoDocument | None = None
        self._edits = 0  # since the journal was started

    @property
    def path(self) -> Path | None:
        return self.journal.path if self.journal is not None else None

    @property
    def pending(self) -> int:
        """Edits not yet in a snapshot or a saved file."""
        return self.journal.records_since_compaction if self.journal is not None else 0

    def attach(self, document: CocoDocument | None, journal_path: Path | None, target: Path | None,
               *, recovered: bool = False) -> None:
        """Keep the journal of `document` at `journal_path` from now on (None: no document).
        A recovered document's journal starts from a snapshot, since the file lacks its edits."""
        self.detach()
        if document is None or journal_path is None:
            return
        header = journal_header(document, target, snapshot=recovered)
        self.journal = Journal(journal_path, header, flush_seconds=self.flush_seconds,
                               on_error=self.on_error)
        self.document, self._edits = document, 0
        document.memory.add_observer(self._on_change)

    def detach(self) -> None:
        """Stop journalling (what was written stays, fsynced)."""
        if self.document is not None:
            self.document.memory.remove_observer(self._on_change)
        if self.journal is not None:
            self.journal.close()
        self.journal, self.document = None, None

    def _on_change(self, change: Change) -> None:
        self.journal.append(encode(change))
        self._edits += 1
        if self._edits == 1 and self.on_first_edit is not None:
            self.on_first_edit(self.journal.path)

    def before_save(self, timeout: float = 1.0) -> None:
        """Let the writer catch up before a save's serialisation holds the interpreter lock
        (a large file: a few hundred ms during which the writer thread could not run)."""
        if self.journal is not None:
            self.journal.written(timeout)

    def saved(self, target: Path, journal_path: Path) -> None:
        """After a save to `target`: the old journal goes, a new one starts on the saved file."""
        document = self.document
        if document is None:
            return
        if journal_path != self.path:  # saved somewhere else: the old journal is obsolete
            self.discard()
            self.attach(document, journal_path, target)
            return
        self.journal.start(journal_header(document, target, snapshot=False))
        self._edits = 0

    def compact(self, target: Path) -> threading.Event:
        """Snapshot + truncated journal in one rename. Call it on the thread that edits the
        document, or while edits are held (a big document's autosave)."""
        return self.journal.compact(journal_header(self.document, target, snapshot=True))

    def discard(self) -> None:
        """The work was saved or deliberately dropped: remove the journal file."""
        if self.journal is not None:
            self.journal.discard().wait(5.0)
            self._edits = 0
