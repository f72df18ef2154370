"""Running one-off jobs (open a dataset, save, autosave) on a QThread.

`TaskRunner.start(name, fn)` runs `fn()` on a fresh thread and emits `finished(name, result)` or
`failed(name, error)` on the GUI thread. The function must not touch widgets. Its errors are caught
here, at the worker boundary (a traceback is logged unless it is a WorkbenchError, which carries a
user-ready message), and handed back as the exception object, so the caller can tell a
DiskChangedError from a DatasetError.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from detr_core.errors import WorkbenchError

log = logging.getLogger(__name__)


class TaskWorker(QObject):
    finished = Signal(str, object)  # task name, fn's result
    failed = Signal(str, object)  # task name, the exception

    def __init__(self, name: str, fn: Callable[[], Any]):
        super().__init__()
        self.name = name
        self._fn = fn

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn()
        except WorkbenchError as e:  # a problem with the user's files: the message says it all
            self.failed.emit(self.name, e)
            return
        except Exception as e:  # worker boundary: report every failure, never kill the thread
            log.exception("task %s failed", self.name)
            self.failed.emit(self.name, e)
            return
        self.finished.emit(self.name, result)


class TaskRunner(QObject):
    finished = Signal(str, object)  # task name, result
    failed = Signal(str, object)  # task name, exception

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running: dict[str, tuple[QThread, TaskWorker]] = {}

    def is_running(self, name: str | None = None) -> bool:
        return bool(self._running) if name is None else name in self._running

    def start(self, name: str, fn: Callable[[], Any]) -> None:
        """Run `fn` on its own thread. One task per name at a time."""
        assert name not in self._running, f"task {name!r} is already running"
        thread = QThread()
        thread.setObjectName(f"task-{name}")
        worker = TaskWorker(name, fn)
        worker.moveToThread(thread)
        # Connect before start (napari's rule); results arrive queued on this (GUI) thread.
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        thread.started.connect(worker.run)
        self._running[name] = (thread, worker)
        thread.start()

    def wait(self, *names: str) -> None:
        """Block until every running task (or those of `names`) has finished, and deliver its
        result; used on close."""
        for name, (thread, _) in list(self._running.items()):
            if names and name not in names:
                continue
            thread.quit()
            thread.wait()
        QCoreApplication.sendPostedEvents(self)  # deliver the queued results now

    @Slot(str, object)
    def _on_worker_finished(self, name: str, result: Any) -> None:
        if self._release(name):
            self.finished.emit(name, result)

    @Slot(str, object)
    def _on_worker_failed(self, name: str, error: object) -> None:
        if self._release(name):
            self.failed.emit(name, error)

    def _release(self, name: str) -> bool:
        entry = self._running.pop(name, None)
        if entry is None:
            return False
        thread, worker = entry
        thread.quit()
        thread.wait()
        worker.deleteLater()
        thread.deleteLater()
        return True
