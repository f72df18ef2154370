"""The Qt side of undo: a QUndoCommand wrapping one Qt-free edit command (app/document/commands.py),
and the history the AnnotationEditor pushes to, over the session's one QUndoStack.

The edit logic is not here: a command's redo/undo returns False when the document refused it,
and Qt then drops the command from the stack (obsolete)."""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand, QUndoStack

from .document.commands import EditCommand


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
