"""`make run` never writes into the checkout (issue 17, item 8): the bundled samples open from a
per-user copy that saving changes, and fine-tuning runs default to the per-user data folder,
which the fine-tune dialog shows."""
from __future__ import annotations

import pytest

import hashlib

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow
from app.training.dialog import FineTuneDialog
from app.user_data import BUNDLED_SAMPLES
from workbench_helpers import make_images, open_and_wait


def tree_digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_the_bundled_samples_open_from_a_per_user_copy(qtbot, tmp_path, dialogs, user_data):
    from app.main import run_gui
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    before = tree_digest(BUNDLED_SAMPLES)
    seen = {}

    def check():
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        ready = [w for w in windows if w.state.current_image is not None]
        if not ready:
            QTimer.singleShot(20, check)
            return
        window = ready[0]
        seen["path"] = window.state.document.path
        window.state.go_next(1)
        window.actions["mark_reviewed"].trigger()  # an edit, saved
        seen["saved"] = window.flows.save()
        QTimer.singleShot(500, window.close)

    QTimer.singleShot(0, check)
    QTimer.singleShot(30_000, QApplication.quit)  # never hang the suite
    assert run_gui([str(BUNDLED_SAMPLES / "annotations.json")]) == 0
    assert seen["path"] == user_data / "samples" / "annotations.json" and seen["saved"]
    assert tree_digest(BUNDLED_SAMPLES) == before, "the checkout's samples changed"
    assert (user_data / "samples" / "images").is_dir()


def test_runs_default_to_the_per_user_data_folder(qtbot, window, tmp_path, user_data):
    make_images(tmp_path / "photos", 2)
    open_and_wait(qtbot, window, tmp_path / "photos")
    window.actions["fine_tune"].trigger()
    qtbot.waitUntil(lambda: bool(window.findChildren(FineTuneDialog)), timeout=5000)
    dialog = window.findChildren(FineTuneDialog)[0]
    assert dialog.run_dir.text().startswith(str(user_data / "runs"))
    assert any(str(user_data / "runs") in label.text() for label in dialog.findChildren(type(dialog.problems)))
    dialog.reject()
