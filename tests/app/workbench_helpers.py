"""Helpers for driving the real window offscreen: answering the standard dialogs, generated
image folders, and waits on the window's public signals instead of sleeps.

A window made here loads no model (neither a remembered one nor the bundled demo model) unless
the test asks for it with `load_model=True`: only tests about the model pay for loading and
running one."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox

from app.main_window import MainWindow


class Dialogs:
    """Answers for the standard dialogs, and a record of what was asked."""

    def __init__(self, monkeypatch):
        self.asked: list[tuple[str, str]] = []
        self.question_answer = QMessageBox.StandardButton.Yes
        self.save_path = ""
        self.text_answer: tuple[str, bool] = ("", False)
        self.item_answer: int | None = None  # index into the offered items
        self.existing_directory = ""
        self.open_file = ""
        monkeypatch.setattr(QMessageBox, "warning", self._warning)
        monkeypatch.setattr(QMessageBox, "information", self._information)
        monkeypatch.setattr(QMessageBox, "question", self._question)
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (self.save_path, ""))
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: self.existing_directory)
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (self.open_file, ""))
        monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: self.text_answer)
        monkeypatch.setattr(QInputDialog, "getItem", self._get_item)

    def _warning(self, parent, title, text, *args, **kwargs):
        self.asked.append(("warning", f"{title}: {text}"))
        return QMessageBox.StandardButton.Ok

    def _information(self, parent, title, text, *args, **kwargs):
        self.asked.append(("information", f"{title}: {text}"))
        return QMessageBox.StandardButton.Ok

    def _question(self, parent, title, text, *args, **kwargs):
        self.asked.append(("question", f"{title}: {text}"))
        return self.question_answer

    def _get_item(self, parent, title, label, items, *args, **kwargs):
        self.asked.append(("item", f"{title}: {label} {list(items)}"))
        if self.item_answer is None:
            return "", False
        return items[self.item_answer], True

    def texts(self, kind: str | None = None) -> list[str]:
        return [t for k, t in self.asked if kind is None or k == kind]


def make_window(qtbot, settings, tmp_path, autosave_seconds: float = 3600, load_model: bool = False) -> MainWindow:
    window = MainWindow(settings=settings, autosave_seconds=autosave_seconds, load_model=load_model)
    window.session.fallback_dir = tmp_path / "autosave-fallback"
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # window shortcuts need the active window
    return window


def close_window(win: MainWindow, dialogs: Dialogs) -> None:
    """Close without blocking: unsaved edits are discarded (dialogs are still patched here)."""
    dialogs.question_answer = QMessageBox.StandardButton.Discard
    win.close()
    deadline = time.monotonic() + 10
    while win.isVisible() and time.monotonic() < deadline:  # a confirmed close finishes queued
        QApplication.processEvents()
    assert not win.isVisible()


def thread_nice(name: str) -> int:
    """The nice value of this process's thread called `name` (Linux: /proc, the name Qt gives a
    QThread from its objectName); the highest if several have the name."""
    values = []
    for task in Path("/proc/self/task").iterdir():
        if (task / "comm").read_text().strip() == name:
            stat = (task / "stat").read_text()
            values.append(int(stat[stat.rindex(")") + 2:].split()[16]))  # field 19: nice
    assert values, f"no thread named {name!r}"
    return max(values)


def thread_nice_of_main() -> int:
    import os

    return os.getpriority(os.PRIO_PROCESS, os.getpid())  # the main thread's id is the process id


def make_images(folder: Path, count: int = 3, size=(64, 48), seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        pixels = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
        path = folder / f"img{i + 1}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def open_and_wait(qtbot, win: MainWindow, path, image_root=None, timeout: int = 10_000) -> None:
    with qtbot.waitSignal(win.session.opened, timeout=timeout):
        win.session.open(str(path), image_root)
    wait_image(qtbot, win, timeout)


def wait_image(qtbot, win: MainWindow, timeout: int = 10_000) -> None:
    """Until the current image is decoded and shown (or reported unreadable)."""
    def shown() -> bool:  # a bool: pytest-qt treats None as "passed"
        entry = win.state.current_entry()
        return win.state.current_image is not None or (entry is not None and entry.error is not None)

    qtbot.waitUntil(shown, timeout=timeout)


def view_point(win: MainWindow, x: float, y: float) -> QPoint:
    """The viewport position showing image pixel (x, y)."""
    return win.canvas.mapFromScene(QPointF(x, y))


def drag(widget, start: QPoint, end: QPoint, button=Qt.MouseButton.LeftButton, steps: int = 4) -> None:
    QTest.mousePress(widget, button, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, steps + 1):
        QTest.mouseMove(widget, start + (end - start) * (k / steps))
    QTest.mouseRelease(widget, button, Qt.KeyboardModifier.NoModifier, end)


def draw_box(qtbot, win: MainWindow, x0, y0, x1, y1) -> None:
    """Press R and drag from image pixel (x0, y0) to (x1, y1); the class picker opens."""
    win.canvas.setFocus()
    QTest.keyClick(win, Qt.Key.Key_R)
    assert win.canvas.mode() == "draw"
    drag(win.canvas.viewport(), view_point(win, x0, y0), view_point(win, x1, y1))
    qtbot.waitUntil(win.canvas.picker.isVisible)


def pick_class(qtbot, win: MainWindow, text: str) -> None:
    """Type into the class picker and press Enter."""
    picker = win.canvas.picker
    QTest.keyClicks(picker.search, text)
    QTest.keyClick(picker.search, Qt.Key.Key_Return)
    assert not picker.isVisible()


def save_and_wait(qtbot, win: MainWindow, timeout: int = 10_000) -> None:
    with qtbot.waitSignal(win.session.saved, timeout=timeout):
        assert win.flows.save()


def folder_with_a_saved_box(qtbot, win: MainWindow, dialogs, tmp_path: Path) -> tuple[Path, int]:
    """(folder, category id): two images in tmp_path/photos, opened, one "cat" box drawn and
    saved as photos/annotations.json."""
    folder = tmp_path / "photos"
    make_images(folder, 2, size=(100, 80))
    open_and_wait(qtbot, win, folder)
    cat = win.state.edits.add_category("cat")
    win.state.add_box([1, 1, 20, 20], cat)
    dialogs.save_path = str(folder / "annotations.json")
    save_and_wait(qtbot, win)
    return folder, cat
