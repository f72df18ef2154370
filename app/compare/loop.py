"""The loop in one click (Train ▸ Use, Pre-label && Compare, Ctrl+Shift+L): after a run, use its
model, pre-label the images not yet reviewed with it, and compare the model before the run with
the new one on the run's validation images — each step on its own worker, the window free."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from .dock import VALIDATION
from .worker import existing


class OneClickLoop(QObject):
    started = Signal(str, str)  # model A (before), model B (the run's)
    refused = Signal(str)  # one line: why nothing started

    def __init__(self, window, compare_ui):
        super().__init__(window)
        self.window, self.compare_ui = window, compare_ui
        self._waiting_for: str | None = None
        window.state.model.model_changed.connect(self._on_model_changed)
        window.state.model.load_failed.connect(self._on_model_load_failed)

    def run(self) -> bool:
        state = self.window.state
        training = state.training
        record = training.selected or training.record
        if record is None or record.model_path is None or record.status not in ("completed", "stopped"):
            return self._refuse("No finished run yet: fine-tune first (Ctrl+T), then run the loop.")
        if state.document is None:
            return self._refuse("Open the annotations the run was trained on first.")
        before = existing(record.base) or existing(state.model.info.source if state.model.info else None)
        if before is None:
            return self._refuse(f"The model before {record.name} ({record.base or 'unknown'}) is not a file: "
                                f"choose model A in the Compare dock.")
        after = str(record.model_path)
        panel = self.compare_ui.panel
        panel.set_models(before, after)
        panel.images.setCurrentText(VALIDATION)
        self._waiting_for = after
        self.started.emit(before, after)
        if state.model.info is not None and state.model.info.source == after:
            self._on_model_changed(state.model.info)
        elif not training.use_model(record):
            self._waiting_for = None
            return self._refuse("The run's model could not be loaded.")
        return True

    def _refuse(self, message: str) -> bool:
        self.window.state.message.emit(message)
        self.refused.emit(message)
        return False

    @Slot(object)
    def _on_model_changed(self, info) -> None:
        if self._waiting_for is None or info.source != self._waiting_for:
            return
        self._waiting_for = None
        model = self.window.state.model
        if not model.batch_runner.running and model.batch_runner.paths("unreviewed"):
            model.batch_runner.start("unreviewed")
        review = getattr(self.window, "review_ui", None)  # the review queue, where the window has one
        if review is not None and hasattr(review, "refresh"):
            review.refresh()
        self.compare_ui.open()
        self.compare_ui.panel.start()

    @Slot(str)
    def _on_model_load_failed(self, message: str) -> None:
        if self._waiting_for is not None:
            self._waiting_for = None
            self.refused.emit(message)
