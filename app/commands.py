"""The Qt side of undo: a QUndoCommand wrapping one Qt-free edit command (app/document/commands.py),
the session's one undo stack (`ActionStack`: each of its steps is one user action for the edit
journal), and the history the AnnotationEditor pushes to, over that stack.

The edit logic is not here: a command's redo/undo returns False when the document refused it,
and Qt then drops the command from the stack (obsolete)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol

from PySide6.QtCore import Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from .document.commands import EditCommand


class Actions(Protocol):
    """Who hears where a user action begins and ends (the session's JournalKeeper)."""

    def begin_action(self) -> None: ...
    def end_action(self) -> None: ...


class UndoEntry(QUndoCommand):
    def __init__(self, command: EditCommand):
        super().__init__(command.text)
        self.command = command

    def redo(self) -> None:
        if not self.command.redo():
            self.setObsolete(True)

    def undo(self) -> None:
        if not self.command.undo():
            self.setObsolete(True)

    def id(self) -> int:
        return self.command.merge_id

    def mergeWith(self, other: QUndoCommand) -> bool:
        return isinstance(other, UndoEntry) and self.command.merge_with(other.command)


class ActionStack(QUndoStack):
    """The session's QUndoStack. Each of its steps is one user action of `actions` (set by the
    session: its JournalKeeper, which journals everything one action writes as one frame): a
    push, a macro from beginMacro to endMacro, an undo (a whole macro's), a redo, a setIndex.
    `action()` brackets more than one step (an accept: its step and its decisions). These wrap
    the Python calls (the window's Undo and Redo, the editor's pushes); a QUndoView or
    createUndoAction would call Qt's own, unbracketed (neither is used).

    While `locked` (a big document is being written on a worker: AppState.set_busy) undo, redo
    and setIndex change nothing and emit `refused`: the worker serialises the document as it is,
    and the save then marks that state as saved (an undo meanwhile would be lost)."""

    refused = Signal()  # an undo, redo or setIndex while locked

    def __init__(self, parent=None):
        super().__init__(parent)
        self.actions: Actions | None = None
        self.locked = False
        self._macros: list[Actions | None] = []  # open macros: whom each one began an action of

    @contextmanager
    def action(self) -> Iterator[None]:
        """What the stack does inside is one user action (nested ones join the outer)."""
        if self.actions is None:
            yield
            return
        self.actions.begin_action()
        try:
            yield
        finally:
            self.actions.end_action()

    def push(self, command: QUndoCommand) -> None:
        with self.action():
            super().push(command)

    def undo(self) -> None:
        if self.locked:
            self.refused.emit()
            return
        with self.action():
            super().undo()

    def redo(self) -> None:
        if self.locked:
            self.refused.emit()
            return
        with self.action():
            super().redo()

    def setIndex(self, index: int) -> None:
        if self.locked:
            self.refused.emit()
            return
        with self.action():
            super().setIndex(index)

    def beginMacro(self, text: str) -> None:
        self._macros.append(self.actions)  # ended by whoever began it
        if self.actions is not None:
            self.actions.begin_action()
        super().beginMacro(text)

    def endMacro(self) -> None:
        try:
            super().endMacro()
        finally:
            actions = self._macros.pop() if self._macros else None
            if actions is not None:
                actions.end_action()


class UndoStackHistory:
    """editing.UndoHistory over a QUndoStack: push applies and records; begin/end make a macro."""

    def __init__(self, stack: QUndoStack):
        self.stack = stack

    def push(self, command: EditCommand) -> bool:
        self.stack.push(UndoEntry(command))
        return not command.failed

    def begin(self, text: str) -> None:
        self.stack.beginMacro(text)

    def end(self) -> None:
        self.stack.endMacro()
