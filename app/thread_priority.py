"""Worker threads that yield the CPU to the GUI thread: `start_below_gui(thread)`.

The image decoder and the detector run on their own QThreads. Where they share a core with the
GUI thread (a laptop under load, or a process pinned to one core), the scheduler splits the core
evenly between whoever is runnable: a 5 ms repaint then took 15-30 ms of wall time while the
model ran beside it (bench_model_gui --explain, issue 17 item 11). A worker started here runs at
a lower priority, so the GUI thread wins the core whenever it has something to do; when the GUI is
idle the worker gets the whole core, as before.

On Linux, QThread priorities other than Idle do nothing under the default scheduling policy, so
the thread also raises its own nice value (threads are scheduled one by one there). Linux's
autogroups and cgroups divide the CPU between sessions and applications first, so this moves time
from our workers to our GUI thread, not from us to other programs. Raising a nice value needs no
privileges; it cannot be lowered again, which a worker thread never needs.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

from PySide6.QtCore import QObject, QThread, Slot

log = logging.getLogger(__name__)

WORKER_NICE = 10  # Linux: weight 110 against the GUI thread's 1024 (nice 0)


def lower_current_thread(nice: int = WORKER_NICE) -> int | None:
    """Raise the calling thread's nice value to at least `nice` (Linux only); returns the value
    now in effect, or None where threads have no nice value of their own."""
    if not sys.platform.startswith("linux"):
        return None
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError as e:  # a sandbox that forbids it: run at the normal priority
        log.warning("cannot lower the priority of thread %s: %s", threading.current_thread().name, e)
        return None


class _Lowerer(QObject):
    """Lives on the worker thread; its slot runs there, first thing after the thread starts."""

    def __init__(self, nice: int):
        super().__init__()
        self.nice = nice
        self.applied: int | None = None

    @Slot()
    def lower(self) -> None:
        self.applied = lower_current_thread(self.nice)


def start_below_gui(thread: QThread, nice: int = WORKER_NICE) -> None:
    """Start `thread` at QThread.LowPriority (Windows, macOS) and, on Linux, have it raise its own
    nice value before it runs anything else: `started` is emitted on the new thread before its
    event loop delivers the first queued request."""
    lowerer = _Lowerer(nice)
    lowerer.moveToThread(thread)
    thread.started.connect(lowerer.lower)
    thread.finished.connect(lowerer.deleteLater)
    thread._below_gui = lowerer  # the Python side lives as long as the thread's wrapper
    thread.start(QThread.Priority.LowPriority)
