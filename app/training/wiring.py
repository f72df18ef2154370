"""Puts fine-tuning into the window through its seams: the Training dock (bottom), the Train menu
and its keys (from the window's action table, so the F1 sheet lists them), and the question
asked when the window closes over a running job. MainWindow calls `install_training_ui` once."""
from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from .closing import CloseGuard
from .dialog import FineTuneDialog
from .dock import TrainingDockWidget

DOCK_HEIGHT = 380
MENU = ("fine_tune", None, "cancel_training", "kill_training", "resume_training", None, "use_trained_model")


class TrainingUi(NamedTuple):
    panel: TrainingDockWidget
    dock: QDockWidget
    guard: CloseGuard


def install_training_ui(window) -> TrainingUi:
    state, a = window.state, window.actions
    training = state.training
    training.use_settings(window.settings)
    panel = TrainingDockWidget(state, [a[n] for n in MENU if n is not None])
    ui = TrainingUi(panel, window.add_dock(panel, "Training", Qt.DockWidgetArea.BottomDockWidgetArea, "training"),
                    CloseGuard(window))
    window.resizeDocks([ui.dock], [DOCK_HEIGHT], Qt.Orientation.Vertical)  # room for the curves

    def open_dialog() -> FineTuneDialog | None:
        if state.document is None:
            state.message.emit("Open annotations first: fine-tuning trains on them.")
            return None
        dialog = FineTuneDialog(state, window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    handlers = {"fine_tune": open_dialog, "cancel_training": training.cancel, "kill_training": training.kill,
                "resume_training": lambda: training.resume(), "use_trained_model": lambda: training.use_model()}
    for name, handler in handlers.items():
        a[name].triggered.connect(handler)
    menu = window.menu("&Train")
    for name in MENU:
        menu.addSeparator() if name is None else menu.addAction(a[name])

    def sync(*_args) -> None:
        busy, running = training.busy, training.status in ("running", "stopping")
        a["fine_tune"].setEnabled(not busy and state.document is not None)
        a["cancel_training"].setEnabled(training.status == "running")
        a["resume_training"].setEnabled(not busy and training.resume_candidate() is not None)
        record = training.selected or training.record
        a["use_trained_model"].setEnabled(not running and record is not None and record.model_path is not None)
        if not running:
            a["kill_training"].setEnabled(False)

    training.status_changed.connect(sync)
    training.selected_changed.connect(sync)
    training.job_finished.connect(sync)
    training.runs_changed.connect(sync)
    training.kill_offered.connect(lambda offered: a["kill_training"].setEnabled(offered and training.busy))
    state.document_opened.connect(sync)
    sync()
    return ui
