"""JournalKeeper: the edit journal of whatever document is open (no Qt).

It observes the document (every CocoDocument edit, so every command, undo and redo), appends each
change to the journal before the edit returns to the command that shows it, starts a fresh journal
after each save, and compacts (the autosave) or discards it when asked. See journal.py for the file
and its timing, and app/recovery.py for where it lives and how it is replayed.

One user action is one frame: between `begin_action()` and its `end_action()` (nested ones join the
outer; `action()` is both) the records are held, and the outermost end queues them as one frame
(`Journal.append_action`), so a crash recovers all of the action or none of it. The window's undo
stack brackets each of its steps so (app/commands.py: a push, a macro, an undo, a redo), and an
accept brackets its step together with its decisions. The action is queued when it ends, before
the window shows it, so the flush interval still counts from there. A record made outside any
action is queued at once, as before. Saving, compacting, discarding or detaching in the middle of
an action first queues what it holds (the order is kept, the action is then two frames).

It also keeps what the window holds with the document beyond the COCO object (the decisions on
predictions, app/model/decision_journal.py): `note(owner, data)` journals one of their changes, in
order with the edits, and `extras()` (set by their owner) gives their whole state for every header
written from then on (after a save, in a compaction, and `restate()` once a new document's state is
known). `settle` (set by their owner, called on the open's worker thread: recovery.Settle) keeps
the extras of an old journal that holds no edit beyond the file.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from detr_core.coco import CocoDocument
from detr_core.coco.changes import Change, encode

from .journal import FLUSH_SECONDS, Journal
from .replay import Settle, extra_record, journal_header


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
        self.extras: Callable[[], dict] | None = None  # owner -> JSON state, for headers
        self.settle: Settle | None = None  # keeps an old journal's extras beside the file
        self._edits = 0  # since the journal was started
        self._depth = 0  # open begin_action()s
        self._held: list[dict] = []  # the records of the action in progress
        self._target: Path | None = None
        self._recovered = False

    @property
    def path(self) -> Path | None:
        return self.journal.path if self.journal is not None else None

    @property
    def pending(self) -> int:
        """Edits not yet in a snapshot or a saved file."""
        return self.journal.records_since_compaction if self.journal is not None else 0

    def begin_action(self) -> None:
        """The records from here to the matching `end_action` are one user action (one frame)."""
        self._depth += 1

    def end_action(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._release()

    @contextmanager
    def action(self) -> Iterator[None]:
        """Everything journalled inside is one user action, written as one frame."""
        self.begin_action()
        try:
            yield
        finally:
            self.end_action()

    def _write(self, record: dict) -> None:
        if self._depth:
            self._held.append(record)
        else:
            self.journal.append(record)
        self._counted()

    def _release(self) -> None:
        """Queue what the action in progress holds (all of it, as one frame)."""
        held, self._held = self._held, []
        if held and self.journal is not None:
            self.journal.append_action(held)

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
        self._target, self._recovered = target, recovered
        document.memory.add_observer(self._on_change)

    def restate(self) -> None:
        """The extras of the document just attached are known now (read from beside it, or
        recovered): the journal's header takes them, unless something was journalled already."""
        self._release()
        if self.journal is not None and self._edits == 0:
            self.journal.start(journal_header(self.document, self._target, snapshot=self._recovered,
                                              extras=self.current_extras()), remove_old=False)

    def note(self, owner: str, data) -> None:
        """Journal a change of `owner`'s extras (JSON-ready `data`), after the edits before it."""
        if self.journal is not None:
            self._write(extra_record(owner, data))

    def current_extras(self) -> dict | None:
        """owner -> JSON state of the extras now (None: no owner)."""
        return self.extras() if self.extras is not None else None

    def detach(self) -> None:
        """Stop journalling (what was written stays, fsynced)."""
        self._release()
        if self.document is not None:
            self.document.memory.remove_observer(self._on_change)
        if self.journal is not None:
            self.journal.close()
        self.journal, self.document = None, None

    def _on_change(self, change: Change) -> None:
        self._write(encode(change))  # encode copies: the document's dicts change with the next edit

    def _counted(self) -> None:
        self._edits += 1
        if self._edits == 1 and self.on_first_edit is not None:
            self.on_first_edit(self.journal.path)

    def before_save(self, timeout: float = 1.0) -> None:
        """Let the writer catch up before a save's serialisation holds the interpreter lock
        (a large file: a few hundred ms during which the writer thread could not run)."""
        self._release()
        if self.journal is not None:
            self.journal.written(timeout)

    def saved(self, target: Path, journal_path: Path) -> None:
        """After a save to `target`: the old journal goes, a new one starts on the saved file."""
        document = self.document
        if document is None:
            return
        self._release()
        if journal_path != self.path:  # saved somewhere else: the old journal is obsolete
            self.discard()
            self.attach(document, journal_path, target)
            self.restate()
            return
        self.journal.start(journal_header(document, target, snapshot=False, extras=self.current_extras()))
        self._target, self._recovered, self._edits = target, False, 0

    def compact(self, target: Path, extras: dict | None = None) -> threading.Event:
        """Snapshot + truncated journal in one rename. Call it on the thread that edits the
        document, or while edits are held (a big document's autosave), with `extras` taken on
        the thread that changes them (default: taken now)."""
        extras = self.current_extras() if extras is None else extras
        self._release()  # (the snapshot has it too; the compaction replaces it)
        return self.journal.compact(journal_header(self.document, target, snapshot=True, extras=extras))

    def discard(self) -> None:
        """The work was saved or deliberately dropped: remove the journal file."""
        if self.journal is not None:
            self._release()
            self.journal.discard().wait(5.0)
            self._edits = 0
