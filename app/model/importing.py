"""File ▸ Import Predictions…: a COCO results file (`detect --out`, `coco merge-results`) shown as
the predictions of the open document. `PredictionImporter` is owned by ModelState
(`state.model.importer`).

The file is read and matched on a worker thread (results_import.py); the GUI thread only takes a
snapshot of the listed images and categories first, and puts the result into the PredictionStore
at the end, as the detector's results are. The imported predictions are then shown, thresholded,
accepted and rejected exactly like the model's (PredictionView, PredictionAcceptor), their
decisions kept by the file's SHA-256. While they are current the model does not run by itself on
the images shown (it would replace them); F5 runs it on the image on screen, and opening another
document ends the import. Bad input changes nothing and says so in one line naming the file.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox

from detr_core.errors import WorkbenchError

from ..tasks import TaskRunner
from .prediction_store import PredictionStore
from .results_import import IMPORTED_RESOLUTION, ImageRef, ImportedPredictions, import_results


class PredictionImporter(QObject):
    imported = Signal(object)  # ImportedPredictions, now in the store
    failed = Signal(str)  # one line naming the file; nothing changed

    def __init__(self, state, store: PredictionStore, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.store = store
        self.current: ImportedPredictions | None = None
        self._document = None  # the document the running import is for
        self.runner = TaskRunner(self)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.failed.connect(self._on_runner_failed)

    @property
    def active(self) -> bool:
        """Imported predictions are the ones shown (the model does not run by itself)."""
        return self.current is not None

    def is_running(self) -> bool:
        return self.runner.is_running("import")

    def start(self, path: str) -> bool:
        """Import `path` in the background; `imported` or `failed` follows. False if it cannot start."""
        state = self.state
        if state.document is None or state.row_count() == 0:
            self._fail(f"{path}: open the images the predictions are for first")
            return False
        if self.is_running():
            state.message.emit("Still importing the previous predictions…")
            return False
        document = state.document
        images = [ImageRef(e.path, e.name, e.image_id, _size(document, e.image_id)) for e in state.entries]
        categories = sorted((dict(c) for c in state.categories()), key=lambda c: c["id"])
        self._document = document
        state.message.emit(f"Importing predictions from {path} …")
        self.runner.start("import", lambda: import_results(path, images, categories))
        return True

    def forget(self) -> None:
        """Another document: its predictions are the model's again."""
        self.current = None

    @Slot(str, object)
    def _on_runner_finished(self, _name: str, result: ImportedPredictions) -> None:
        if self.state.document is not self._document:  # another document opened meanwhile
            return
        for path, detections in result.by_path.items():
            self.store.put(path, result.model_key, IMPORTED_RESOLUTION, detections, fingerprint=result.sha256)
        self.current = result
        self.state.message.emit(f"Imported {result.results} predictions for {len(result.by_path)} images "
                                f"from {result.source} (F5 runs the model on an image instead)")
        self.imported.emit(result)

    @Slot(str, object)
    def _on_runner_failed(self, _name: str, error: Exception) -> None:
        self._fail(str(error) if isinstance(error, WorkbenchError) else f"{type(error).__name__}: {error}")

    def _fail(self, message: str) -> None:
        self.state.message.emit(message)
        self.failed.emit(message)


def _size(document, image_id: int | None) -> tuple[int, int] | None:
    if image_id is None:
        return None
    image = document.image(image_id)
    width, height = image.get("width"), image.get("height")
    return (int(width), int(height)) if isinstance(width, int) and isinstance(height, int) else None


def install_import_action(window) -> None:
    """File ▸ Import Predictions… (before Export Model…): asks for the file, imports it."""
    action, importer = window.actions["import_predictions"], window.state.model.importer
    window.menu("&File").insertAction(window.actions["export_model"], action)

    def choose() -> None:
        path, _ = QFileDialog.getOpenFileName(window, "Import Predictions", "",
                                              "COCO results (*.json);;All files (*)")
        if path:
            importer.start(path)

    action.triggered.connect(choose)
    importer.failed.connect(lambda message: QMessageBox.warning(window, "Import Predictions", message))
