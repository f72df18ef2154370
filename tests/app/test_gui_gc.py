"""The GUI-thread garbage collector: automatic collection is off while it runs, cycles are still
freed (by its timer, on the GUI thread), and stopping restores automatic collection."""
from __future__ import annotations

import gc
import threading
import weakref

from app.gui_gc import GuiThreadCollector


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_cycles_are_collected_on_the_gui_thread_only(qtbot, gui_thread_gc):
    gui_thread_gc.stop()  # the test's own collector, on a short interval
    collector = GuiThreadCollector(interval_ms=20)
    try:
        assert not gc.isenabled()
        collected_on = []
        def note(phase, info):
            if phase == "start":
                collected_on.append(threading.get_ident())

        gc.callbacks.append(note)
        refs = []

        def make_garbage():  # a worker allocating a lot would trigger automatic collection
            for _ in range(20_000):
                node = Node()
                refs.append(weakref.ref(node))

        worker = threading.Thread(target=make_garbage)
        worker.start()
        worker.join()
        assert all(r() is not None for r in refs[:100])  # nothing collected on the worker
        qtbot.waitUntil(lambda: refs[0]() is None, timeout=5000)
        assert collector.collections > 0 and set(collected_on) == {threading.get_ident()}
    finally:
        gc.callbacks.remove(note)
        collector.stop()
    assert gc.isenabled()


def test_start_up_objects_are_frozen_out_of_later_collections(qtbot, gui_thread_gc):
    gui_thread_gc.stop()
    collector = GuiThreadCollector()
    try:
        before = gc.get_freeze_count()
        collector.freeze_startup()
        assert gc.get_freeze_count() > before and collector.frozen
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_what_a_model_load_made_is_frozen_too(qtbot, gui_thread_gc):
    """torch is imported by the first model load, after start-up: its objects are frozen then."""
    gui_thread_gc.stop()
    collector = GuiThreadCollector()
    try:
        collector.freeze_startup()
        after_startup = gc.get_freeze_count()
        loaded = [Node() for _ in range(1000)]  # what a load leaves alive (modules, the model)
        collector.freeze_loaded()
        assert gc.get_freeze_count() >= after_startup + len(loaded)
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0 and gc.isenabled()
