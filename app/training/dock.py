"""The Training dock: what the job is doing (status, progress with ETA, how it ended), its
commands as a toolbar, and tabs for the live curves, the job's log, the metrics of the selected
run and the run history."""
from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QSizePolicy, QTabWidget, QToolBar,
                               QVBoxLayout,
                               QWidget)

from detr_core.train.events import EpochDone, EvalDone, RunStarted, RunWarning, StepDone
from detr_core.train.reading import CurveReader

from .history import RunHistoryWidget
from .job import LOG_LINES, JobOutcome
from .metrics_table import MetricsTableWidget, percent
from .plots import TrainingPlotsWidget


def hms(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(max(seconds, 0))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


STOPPING = "Stopping: finishing the current step and writing a checkpoint…"


class TrainingDockWidget(QWidget):
    def __init__(self, state, actions: list[QAction], parent=None):
        super().__init__(parent)
        self.training = t = state.training
        self.toolbar = QToolBar()
        self.toolbar.addActions(actions)
        self.status = QLabel("No training job yet: Train > Fine-tune… (Ctrl+T) starts one on these annotations.")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.hide()
        self.reader = CurveReader()
        self.reading = QLabel()  # after each evaluation: class error, weakest classes, the curves in words
        self.reading.setWordWrap(True)
        self.reading.hide()
        self.plots = TrainingPlotsWidget(t)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setFont(QFont("monospace", 8))
        self.metrics = MetricsTableWidget(t)
        self.history = RunHistoryWidget(t)
        self.tabs = QTabWidget()
        for widget, title in ((self.plots, "Curves"), (self.log, "Log"), (self.metrics, "Metrics"),
                              (self.history, "Runs")):
            self.tabs.addTab(widget, title)
        # The tabs take the height the dock has, down to their minimum, and ask for no more: the
        # Runs and Metrics tables' size hints would make the dock scroll at 1366×768.
        self.tabs.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        self.tabs.setMinimumHeight(self.tabs.minimumSizeHint().height())
        self.tabs.setCornerWidget(self.plots.options)  # shown with the Curves tab only
        self.tabs.currentChanged.connect(lambda _i: self.plots.options.setVisible(self.tabs.currentWidget() is self.plots))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        top = QHBoxLayout()
        top.addWidget(self.toolbar)
        top.addWidget(self.progress, 1)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.outcome)
        layout.addWidget(self.reading)
        layout.addWidget(self.tabs, 1)
        t.status_changed.connect(self._on_training_status_changed)
        t.job_started.connect(self._on_training_job_started)
        t.event_received.connect(self._on_training_event_received)
        t.log_appended.connect(self._on_training_log_appended)
        t.job_finished.connect(self._on_training_job_finished)
        t.start_failed.connect(self._on_training_start_failed)
        t.detached.connect(lambda run, pid: self.status.setText(f"{run} continues in the background (process {pid})."))

    def outcome_text(self) -> str:
        return self.outcome.text()

    def reading_text(self) -> str:
        """What the dock says about the curves: class error, weakest classes, the reading in words."""
        return self.reading.text()

    def _show_reading(self) -> None:
        parts = []
        error = self.reader.class_error()
        if error is not None:
            parts.append(f"class error {error:.1f} %")
        weakest = self.reader.weakest()
        if weakest:
            parts.append("weakest classes (AP): " + ", ".join(f"{name} {percent(ap)}" for name, ap in weakest))
        parts.append(self.reader.reading())
        self.reading.setText(" · ".join(parts))
        self.reading.show()

    # -- slots ----------------------------------------------------------------------------------------
    @Slot(str)
    def _on_training_status_changed(self, status: str) -> None:
        if status == "preparing":
            self.status.setText("Writing the snapshot of the annotations…")
            self.progress.setRange(0, 0)  # busy
        elif status == "stopping":
            self.status.setText(STOPPING)

    @Slot(str)
    def _on_training_job_started(self, run_dir: str) -> None:
        self.log.clear()
        self.outcome.hide()
        self.status.setText(f"Starting the training command in {run_dir} …")
        self.progress.setRange(0, 0)
        self.tabs.setCurrentWidget(self.plots)

    @Slot(object)
    def _on_training_event_received(self, event) -> None:
        if isinstance(event, RunStarted) and not event.resumed:  # a resumed run keeps its curves' reading
            self.reader = CurveReader()
            self.reading.hide()
        self.reader.add(event)
        if isinstance(event, (EvalDone, EpochDone)):
            self._show_reading()
        if isinstance(event, RunStarted):
            self.progress.setRange(0, max(event.total_steps, 1))
            self.progress.setValue(event.start_step)
            self.progress.setFormat(f"step {event.start_step}/{event.total_steps}")
            what = "Resuming" if event.resumed else "Training"
            self.status.setText(f"{what} {event.train_images} images ({event.val_images} for validation) on "
                                f"{event.device}, from {event.base}")
        elif isinstance(event, StepDone):
            if event.total_steps != self.progress.maximum():  # a time budget refitted the run
                self.progress.setMaximum(max(event.total_steps, 1))
            self.progress.setValue(event.step)
            self.progress.setFormat(f"epoch {event.epoch} · step {event.step}/{event.total_steps} · "
                                    f"ETA {hms(event.eta_s)}")
            loss = f"{event.loss:.3f}" if event.loss is not None else "not finite"
            self.status.setText(f"Epoch {event.epoch}, step {event.epoch_step}/{event.steps_per_epoch}: loss {loss}, "
                                f"lr {event.lr:.1e}, {event.images_per_s:.1f} images/s, "
                                f"{hms(event.elapsed_s)} elapsed")
        elif isinstance(event, EvalDone):
            m = event.metrics or {}
            self.status.setText(f"Validation after epoch {event.epoch}: AP {percent(m.get('AP'))}, "
                                f"AP50 {percent(m.get('AP50'))}")
        elif isinstance(event, EpochDone):
            self.status.setText(f"Epoch {event.epoch}/{event.epochs} done: loss {event.loss:.3f}"
                                if event.loss is not None else f"Epoch {event.epoch}/{event.epochs} done")
        elif isinstance(event, RunWarning):
            self.log.appendPlainText(f"warning: {event.message}")
        if self.training.status == "stopping":  # the steps still arriving must not hide the stop
            self.status.setText(STOPPING)

    @Slot(list)
    def _on_training_log_appended(self, lines: list) -> None:
        self.log.appendPlainText("\n".join(lines))

    @Slot(object)
    def _on_training_job_finished(self, outcome: JobOutcome) -> None:
        self.progress.setRange(0, max(self.progress.maximum(), 1))
        failed = outcome.status in ("failed", "killed")
        colour = "#b00020" if failed else "#1b5e20" if outcome.status == "completed" else "#444"
        text = f"<b style='color:{colour}'>{outcome.status.capitalize()}</b>: {outcome.message}"
        if failed and outcome.last_lines:
            tail = "<br>".join(line.replace("&", "&amp;").replace("<", "&lt;") for line in outcome.last_lines)
            text += f"<br><span style='font-family:monospace; font-size:8pt'>{tail}</span>"
        self.outcome.setText(text)
        self.outcome.show()
        self.status.setText(f"Run {outcome.run_dir.name}: {outcome.status}.")
        end = outcome.end
        self.progress.setFormat(f"{outcome.status}: step {end.step}/{end.total_steps}" if end is not None
                                else outcome.status)
        if outcome.status == "completed":
            self.progress.setValue(self.progress.maximum())
            self.tabs.setCurrentWidget(self.metrics)

    @Slot(str)
    def _on_training_start_failed(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.status.setText(message)
