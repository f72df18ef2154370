"""Measuring the loop in the window: the pre-labels the user accepted (the acceptor's
PrelabelLog) are read when a document opens and, each time it is saved, written beside it with
what became of them per model version; a checkpoint from a training run gets its counts in that
run's folder too, where the Runs list shows them (app/model/prelabels.py says what is written)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Slot

from detr_core.errors import DatasetError
from detr_core.review.loop import write_loop_stats

from ..model.prelabels import write_loop_beside
from ..training.runs import is_run_dir


def run_version(checkpoint: str, fingerprint: str) -> str:
    """How a model version is named in its run's review_loop.json: file name and weights."""
    return f"{Path(checkpoint).name}@{fingerprint[:10]}"


class LoopRecorder(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window, self.state = window, window.state
        self.log = window.state.model.acceptor.prelabels
        self.state.document_opened.connect(self._on_state_document_opened)
        window.session.saved.connect(self.record)

    @Slot()
    def _on_state_document_opened(self) -> None:
        document = self.state.document
        try:
            if document is not None and document.path is not None:
                self.log.read(document.path)
            else:
                self.log.clear()
        except DatasetError as e:  # the document opens; the old pre-labels are not counted
            self.log.clear()
            self.state.message.emit(str(e))

    @Slot(str)
    def record(self, document_path: str) -> list[Path]:
        """The document was saved at `document_path`: the pre-labels and the loop counts beside
        it, and in the run folder of each checkpoint that has one. Returns the files written."""
        if not len(self.log) or self.state.document is None:
            return []
        document = self.state.document
        images = {p["image_id"] for m in self.log.models.values() for p in m["prelabels"]}
        final = {"annotations": [a for i in images for a in _boxes(document, i)]}
        stats = self.log.stats(final)
        checkpoints = {model: entry["checkpoint"] for model, entry in self.log.models.items()}
        written = []
        try:
            written.append(self.log.write(document_path))
            written.append(write_loop_beside(document_path, stats, checkpoints))
            for model, s in stats.items():
                run_dir = Path(checkpoints[model]).parent if checkpoints[model] else None
                if run_dir is not None and is_run_dir(run_dir):
                    written.append(write_loop_stats(run_dir, run_version(checkpoints[model], model), s))
        except DatasetError as e:  # the document itself is saved
            self.state.message.emit(str(e))
        training = getattr(self.window, "training", None)  # composed after the review side
        if any(p.name == "review_loop.json" for p in written) and training is not None:
            training.refresh_runs()
        return written


def _boxes(document, image_id: int) -> list[dict]:
    try:
        return document.annotations_for(image_id)
    except KeyError:  # the image's record is gone (undone): its pre-labels were deleted
        return []
