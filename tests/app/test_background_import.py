"""BackgroundImport (app/background_import.py) imports on a thread of its own and says so on the
GUI thread. A receiver closed while the import still runs (a window closed during pyqtgraph's
import, seen to crash a fresh-clone test run) must not take the importer down with it."""
from __future__ import annotations

import gc
import sys
import textwrap

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QApplication

from app.background_import import BackgroundImport


class Receiver(QObject):
    def __init__(self):
        super().__init__()
        self.got: list[tuple[str, str]] = []

    @Slot(str, str)
    def on_finished(self, name: str, error: str) -> None:
        self.got.append((name, error))


def _slow_module(tmp_path, name: str, body: str = "") -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(f"""
        import time
        time.sleep(0.4)
        {body}
        VALUE = 1
    """))
    if str(tmp_path) not in sys.path:
        sys.path.insert(0, str(tmp_path))
    return name


def test_the_import_outlives_a_closed_receiver_and_a_dropped_importer(qtbot, tmp_path):
    name = _slow_module(tmp_path, "bg_import_slow_a")
    gone = Receiver()
    importer = BackgroundImport(name)
    importer.finished.connect(gone.on_finished)
    importer.start()
    thread = importer.thread
    gone.deleteLater()  # the window closes while the module still imports
    del importer, gone
    QApplication.processEvents()
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()
    QApplication.processEvents()  # the queued call to the deleted receiver is dropped, nothing crashes
    assert sys.modules[name].VALUE == 1


def test_a_live_receiver_hears_success_and_the_failure_in_one_line(qtbot, tmp_path):
    good = _slow_module(tmp_path, "bg_import_slow_b")
    bad = _slow_module(tmp_path, "bg_import_slow_c", "raise ValueError('broken on purpose')")
    receiver = Receiver()
    for name in (good, bad):
        importer = BackgroundImport(name)
        importer.finished.connect(receiver.on_finished)
        with qtbot.waitSignal(importer.finished, timeout=10_000):
            importer.start()
    qtbot.waitUntil(lambda: len(receiver.got) == 2, timeout=5000)
    assert receiver.got[0] == (good, "")
    assert receiver.got[1][0] == bad and receiver.got[1][1] == "ValueError: broken on purpose"
