"""Pre-annotation controls: which images (all, or those the list's filter shows), start, a
progress bar with the pace and the time left, cancel. The bar and text are redrawn at most
REDRAW_MS apart (a fast model finishes many images a second; painting each would slow the job).
Neither changes the panel's size: showing the bar or a longer text would re-lay out every dock
and repaint the whole window (over 100 ms of GUI stall at a job's start, plots included)."""
from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import (QComboBox, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy,
                               QVBoxLayout)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s left"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min left"


REDRAW_MS = 150


class BatchPanelWidget(QGroupBox):
    def __init__(self, state, parent=None):
        super().__init__("Pre-annotate", parent)
        self.state, self.model_state = state, state.model
        self.scope = QComboBox()
        self.scope.addItem("All images", "all")
        self.scope.addItem("Images in the list (filter)", "listed")
        self.scope.setToolTip("Filter the image list (status, class, name) to pre-annotate a selection")
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Run the model on these images in the background (Ctrl+Shift+P); "
                                     "images it has already seen are skipped")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.model_state.batch_runner.cancel)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        policy = self.progress.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # its place is kept while hidden
        self.progress.setSizePolicy(policy)
        self.detail = QLabel()
        self.detail.setStyleSheet("color: palette(mid);")
        self.detail.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # text length: no relayout
        self.detail.setMinimumHeight(self.detail.fontMetrics().height())
        row = QHBoxLayout()
        row.addWidget(self.scope, 1)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.detail)
        self._latest = None  # progress not drawn yet
        self._redraw = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw.timeout.connect(self._draw_progress)
        m = self.model_state
        m.batch_progressed.connect(self._on_model_batch_progressed)
        m.batch_finished.connect(self._on_model_batch_finished)
        m.model_changed.connect(lambda _info: self._update_buttons())
        self._update_buttons()
        self.progress.hide()
        self._set_detail("Predictions are kept per image; the list's Pred column counts them.")

    def _set_detail(self, text: str) -> None:
        self.detail.setText(text)
        self.detail.setToolTip(text)  # the whole text, where a narrow dock cuts it

    def start(self) -> None:
        self.model_state.batch_runner.start(self.scope.currentData())

    def _update_buttons(self) -> None:
        running = self.model_state.batch_runner.running
        self.start_button.setEnabled(not running and self.model_state.info is not None)
        self.cancel_button.setEnabled(running)
        self.scope.setEnabled(not running)

    @Slot(object)
    def _on_model_batch_progressed(self, progress) -> None:
        first = self._latest is None and progress.done == 0
        self._latest = progress
        if first:
            self._draw_progress()
        elif not self._redraw.isActive():
            self._redraw.start()

    @Slot()
    def _draw_progress(self) -> None:
        progress, self._latest = self._latest, None
        if progress is None:
            return
        self.progress.show()
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.done)
        self.progress.setFormat("%v / %m images")
        pace = f"{progress.images_per_second:.1f} images/s · " if progress.images_per_second else ""
        failed = f" · {progress.failed} failed" if progress.failed else ""
        self._set_detail(f"{pace}{format_eta(progress.eta_seconds)}{failed}")
        self._update_buttons()

    @Slot(object)
    def _on_model_batch_finished(self, summary) -> None:
        self._redraw.stop()
        self._latest = None
        self.progress.setValue(summary.done)
        verb = "Cancelled" if summary.cancelled else "Done"
        failed = f", {summary.failed} failed" if summary.failed else ""
        self._set_detail(f"{verb}: {summary.done} of {summary.total} images in {summary.seconds:.1f} s{failed}.")
        self._update_buttons()
