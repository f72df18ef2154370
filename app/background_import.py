"""BackgroundImport: import a module on a Python thread, told on the GUI thread when it is in.

pyqtgraph takes about a second to import, and the training plots need it shortly after the window
shows (the Curves tab is on screen at start). Imported on the GUI thread, that second was one
long stall of the window (issue 17). Here a plain Python thread imports it and `finished` arrives
on the GUI thread; the plots are built then, from sys.modules.

A BackgroundImport has no Qt parent: the importing thread keeps it alive (a parent, say the
plots widget of a window closed while pyqtgraph was still importing, deleted it under the thread,
whose emit then crashed the process: seen in a fresh-clone test run, where imports are slow).
Receivers that are gone by then are simply not called (Qt drops queued calls to deleted objects).

Only modules whose import creates no QObject, widget, pixmap or timer may be imported this way:
anything a module makes at import time would belong to the importing thread. pyqtgraph 0.14 makes
only value types then (colours, painter paths, transforms; its icons load lazily) and Signal
declarations. The thread runs below the GUI thread's priority (thread_priority.py); it still
holds the GIL for most of the import, which Python hands over every few milliseconds, so the GUI
thread runs meanwhile in short waits instead of one long one. Code that imports the module on
the GUI thread in the meantime simply waits for this import to finish (Python's import lock).
"""
from __future__ import annotations

import importlib
import logging
import threading

from PySide6.QtCore import QObject, Signal

from .thread_priority import lower_current_thread

log = logging.getLogger(__name__)


class BackgroundImport(QObject):
    finished = Signal(str, str)  # module name, "" or the one-line error (queued to the GUI thread)

    def __init__(self, name: str):
        super().__init__()  # no parent: see the module docstring
        self.name = name
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Start importing (once); `finished` follows, also when it was imported already."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name=f"import {self.name}", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        lower_current_thread()
        try:
            importlib.import_module(self.name)
            error = ""
        except Exception as e:  # thread boundary: report it; the GUI thread's own import will raise it
            log.exception("importing %s in the background failed", self.name)
            error = f"{type(e).__name__}: {e}"
        self.finished.emit(self.name, error)
