"""Helpers for the fine-tuning tests: a small real dataset, the fine-tune dialog filled for a fast
job (tiny config from scratch, small images, 1-2 epochs, no loader processes), and waits on the
training state's public signals. The jobs are the real `detr-workbench train` command."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from app.training.dialog import START_ANYWAY, FineTuneDialog

JOB_TIMEOUT = 240_000  # ms: a loaded 2-core machine starts torch slowly
PREFLIGHT_TIMEOUT = 180_000  # ms: the preflight's child process (torch, and maybe the overfit steps)


def make_dataset(folder: Path, images: int = 8, seed: int = 5) -> Path:
    """Synthetic shapes (detr_core.data.synthetic): COCO JSON + JPEGs, 288-384 px."""
    from detr_core.data.synthetic import write_dataset

    return write_dataset(folder, images, seed, name="shapes")


def open_dialog(qtbot, window) -> FineTuneDialog:
    """Train > Fine-tune… by its key."""
    def shown() -> FineTuneDialog | None:
        found = [d for d in window.findChildren(FineTuneDialog) if d.isVisible()]
        return found[0] if found else None

    QTest.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: shown() is not None)
    return shown()


def fill_fast(dialog: FineTuneDialog, run_dir: Path, epochs: int = 1, lr: str | None = None,
              checkpoint: str | None = None) -> None:
    if checkpoint is None:
        dialog.from_scratch.setChecked(True)
        dialog.config.setCurrentText("tiny")
    else:
        dialog.from_scratch.setChecked(False)
        dialog.checkpoint.setText(checkpoint)
    dialog.timed.setChecked(False)  # a fixed, short number of epochs, not "train for 10 minutes"
    dialog.epochs.setValue(epochs)
    dialog.batch_size.setValue(2)
    dialog.resolution.setCurrentText("192")
    dialog.device.setCurrentText("cpu")
    dialog.workers.setValue(0)
    dialog.overfit.setChecked(False)  # the preflight before Start: data checks only (no training steps)
    if lr is not None:
        dialog.lr.setText(lr)
    dialog.run_dir.setText(str(run_dir))
    dialog.refresh()


def start(qtbot, dialog: FineTuneDialog, training) -> None:
    """Press Start: the preflight runs first; when it found errors (or could not run), press the
    "Start anyway" it leaves. Returns once the job started."""
    assert dialog.start_button.isEnabled(), dialog.problems.text()
    started: list[str] = []
    training.job_started.connect(started.append)
    try:
        with qtbot.waitSignal(dialog.preflight.finished, timeout=PREFLIGHT_TIMEOUT):
            qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        if not training.busy:  # no job on its way: the preflight found errors
            assert dialog.start_button.text() == START_ANYWAY, dialog.preflight_view.lines()
            qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(started), timeout=60_000)
    finally:
        training.job_started.disconnect(started.append)


def wait_finished(qtbot, training, timeout: int = JOB_TIMEOUT):
    with qtbot.waitSignal(training.job_finished, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def events_of(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class JobQuestion:
    """Answers the "training job running" question asked on close, and records it."""

    def __init__(self, monkeypatch, answer=QMessageBox.StandardButton.Cancel):
        self.answer = answer
        self.asked: list[str] = []
        monkeypatch.setattr(QMessageBox, "exec", lambda box: self._exec(box))  # a function: binds the box

    def _exec(self, box):
        self.asked.append(f"{box.text()} {box.informativeText()}")
        return self.answer


# -- fixtures (imported by the test modules) ------------------------------------------------------
import pytest  # noqa: E402

from app.main_window import MainWindow  # noqa: E402
from workbench_helpers import close_window  # noqa: E402


def end_job(training, timeout_s: float = 30) -> None:
    """Kill a job a failed test left running, so closing the window asks nothing."""
    import time

    from PySide6.QtWidgets import QApplication

    if training.job is None:
        return
    training.kill()
    deadline = time.monotonic() + timeout_s
    while training.job is not None and time.monotonic() < deadline:
        QApplication.processEvents()


@pytest.fixture
def job_question(monkeypatch) -> JobQuestion:
    """Closing over a running job: "Cancel" unless a test answers otherwise (pytest-qt closes the
    window before the fixtures' teardown: a failed test must not leave a modal question open)."""
    return JobQuestion(monkeypatch)


@pytest.fixture
def train_window(qtbot, settings, tmp_path, dialogs, job_question):
    """The window, with no model loaded (nor the demo model). A job a failed test left running is
    killed before pytest-qt closes and deletes the window."""
    win = MainWindow(settings=settings, autosave_seconds=3600, load_model=False)
    win.session.fallback_dir = tmp_path / "autosave-fallback"
    qtbot.addWidget(win, before_close_func=lambda w: end_job(w.state.training))
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)  # window shortcuts need the active window
    yield win
    end_job(win.state.training)
    close_window(win, dialogs)
