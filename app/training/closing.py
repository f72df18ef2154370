"""Closing the window while a training job runs: ask whether to stop the job (it writes a
checkpoint; resume it later), leave it running in the background, or keep the window open. The
window closes by itself once the job has stopped (or been handed over). Installed as an event
filter on the window, so MainWindow.closeEvent needs no change."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QMessageBox

STOP, LEAVE, CANCEL = "stop", "leave", "cancel"


def ask_about_running_job(parent, run_name: str) -> str:
    """STOP, LEAVE or CANCEL, asked in a message box with plain-language buttons."""
    box = QMessageBox(QMessageBox.Icon.Question, "Training job running",
                      f"The training job {run_name} is still running.", parent=parent)
    box.setInformativeText("Stop it (a checkpoint is written; Resume continues it later), or leave it "
                           "running in the background (it continues from its next checkpoint and keeps "
                           "writing to its run folder)?")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
                           | QMessageBox.StandardButton.Cancel)
    box.button(QMessageBox.StandardButton.Yes).setText("Stop the Job")
    box.button(QMessageBox.StandardButton.No).setText("Leave It Running")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    answer = box.exec()
    return {QMessageBox.StandardButton.Yes: STOP, QMessageBox.StandardButton.No: LEAVE}.get(
        QMessageBox.StandardButton(answer), CANCEL)


class CloseGuard(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.training = window.state.training
        self._close_when_idle = False
        self.training.job_finished.connect(self._on_training_job_finished)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is not self.window or event.type() != QEvent.Type.Close or not self.training.busy:
            return False
        event.ignore()
        if self._close_when_idle:
            self.window.state.message.emit("Waiting for the training job to stop (Train > Kill Job ends it at once).")
        elif self.training.status == "preparing":
            self.window.state.message.emit("The training data is being written; close again in a moment.")
        else:
            self._ask()
        return True  # the window's closeEvent runs once the job is done

    def _ask(self) -> None:
        record = self.training.record
        answer = ask_about_running_job(self.window, record.name if record is not None else "")
        if answer == CANCEL or not self.training.busy:
            return
        self._close_when_idle = True
        if answer == STOP:
            self.training.cancel()
        else:
            self.training.continue_in_background()
        self.window.state.message.emit("Stopping the training job; the window closes when it has stopped.")

    @Slot(object)
    def _on_training_job_finished(self, _outcome) -> None:
        if self._close_when_idle:
            self._close_when_idle = False
            QTimer.singleShot(0, self.window.close)
