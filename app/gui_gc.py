"""Cyclic garbage is collected on the GUI thread only.

Python's automatic collector runs on whichever thread happens to allocate. When that is a worker
(the detector thread) and the garbage holds Qt objects (a closed dialog's widgets in a reference
cycle), their destructors run on the worker: Qt's object lock is taken there and the destructor
then waits for the GIL, while the GUI thread holds the GIL and waits for that same lock inside its
own deletions: both threads hang (seen in the test suite with PySide6 6.11). So while the window
runs, automatic collection is off and a timer on the GUI thread collects instead, each generation
when its count passes the usual threshold. Reference counting (most of the freeing) is unchanged.

    collector = GuiThreadCollector()   # on the GUI thread, with a QApplication
    ...                                # build the window
    collector.freeze_startup()         # what exists now is never scanned again
    model.model_changed.connect(collector.freeze_loaded)  # and what a model load made (torch)
    ...
    collector.stop()                   # a last full collection here, automatic collection back on

A full collection scans every tracked object: with torch, Qt and the window loaded that is
~400,000 objects and 100-250 ms on this 2-core machine, a visible stall of the GUI thread. The
objects made at start-up (modules, the window) live as long as the program, so they are frozen
(`gc.freeze`) out of every later collection, which then only scans what was made since.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer, Slot

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    def __init__(self, interval_ms: int = INTERVAL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.was_enabled = gc.isenabled()
        gc.disable()
        self.collections = 0
        self.frozen = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    @Slot()
    def check(self) -> None:
        """Collect the oldest generation whose count passed its threshold (as gc would)."""
        counts = gc.get_count()
        generation = -1
        for g in range(3):
            if counts[g] > self.thresholds[g]:
                generation = g
        if generation >= 0:
            gc.collect(generation)
            self.collections += 1

    def freeze_startup(self) -> None:
        """Collect once, then keep everything alive now out of later collections."""
        gc.collect()
        gc.freeze()
        self.frozen = True

    def freeze_loaded(self, *_args) -> None:
        """After a model load (the first one imports torch, on the detector thread, after the
        window is up): keep what exists now out of later collections too, or each full one scans
        torch's ~300,000 objects (a stall of 100-400 ms). No collection first: that would be the
        stall; the load's temporaries were freed by reference counting already."""
        gc.freeze()
        self.frozen = True

    def stop(self) -> None:
        self._timer.stop()
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
        gc.collect()
        if self.was_enabled:
            gc.enable()
