"""File ▸ Export Model…: the model to ONNX, off the GUI thread, with its progress and self-check.

`ExportModelWorker` runs `detr_core.export.export_onnx` on a QThread and turns its progress
callback into signals; `ExportModelDialog` asks for the checkpoint (the loaded model's by default)
and the output file, shows the steps as they happen and then the self-check's table. The file is
written only if the check passed (detr_core's rule); a failure shows its one-line reason.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QCloseEvent, QFontDatabase
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from detr_core.errors import WorkbenchError

log = logging.getLogger(__name__)


class ExportModelWorker(QObject):
    """One export; lives on its own thread. Payloads are plain Python (no widgets touched)."""

    progressed = Signal(int, int, str)  # step, steps, what is happening
    finished = Signal(object)  # detr_core.export.ExportResult
    failed = Signal(str)  # one line

    def __init__(self, checkpoint: str, out: Path):
        super().__init__()
        self.checkpoint, self.out = checkpoint, out

    @Slot()
    def run(self) -> None:
        from detr_core.export import export_onnx

        try:
            result = export_onnx(self.checkpoint, self.out, on_progress=self.progressed.emit)
        except WorkbenchError as e:  # the message names the file and the problem
            self.failed.emit(str(e))
            return
        except Exception as e:  # worker boundary: report it, never kill the thread silently
            log.exception("export of %s failed", self.checkpoint)
            self.failed.emit(f"{self.checkpoint}: export failed ({type(e).__name__}: {e})")
            return
        self.finished.emit(result)


class ExportModelDialog(QDialog):
    exported = Signal(object)  # ExportResult, after the file was written
    failed = Signal(str)  # the one-line reason; nothing was written

    def __init__(self, checkpoint: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export Model to ONNX")
        self.setMinimumWidth(640)
        self._thread: QThread | None = None
        self._close_when_done = False
        self._worker: ExportModelWorker | None = None
        self.result = None  # the last ExportResult
        self.checkpoint_edit = QLineEdit(checkpoint)
        self.out_edit = QLineEdit(_default_out(checkpoint))
        self.progress = QProgressBar()
        self.status = QLabel("The file is written only if onnxruntime reproduces PyTorch on the samples.")
        self.status.setWordWrap(True)
        self.report = QPlainTextEdit(readOnly=True)
        self.report.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.clicked.connect(self.start_export)
        self.buttons.rejected.connect(self.close)
        self._layout()

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Checkpoint:", self._with_browse(self.checkpoint_edit, self._browse_checkpoint))
        form.addRow("ONNX file:", self._with_browse(self.out_edit, self._browse_out))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.report, 1)
        layout.addWidget(self.buttons)

    def _with_browse(self, edit: QLineEdit, browse) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        button = QPushButton("Browse…")
        button.clicked.connect(browse)
        row.addWidget(edit, 1)
        row.addWidget(button)
        return box

    def set_checkpoint(self, checkpoint: str) -> None:
        """The checkpoint to export; the ONNX file defaults to the same name next to it."""
        if checkpoint != self.checkpoint_edit.text():
            self.checkpoint_edit.setText(checkpoint)
            self.out_edit.setText(_default_out(checkpoint))

    def _browse_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Checkpoint", self.checkpoint_edit.text(),
                                              "Checkpoints (*.pth *.pt *.bin *.safetensors);;All files (*)")
        if path:
            self.set_checkpoint(path)

    def _browse_out(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "ONNX file", self.out_edit.text(), "ONNX (*.onnx)")
        if path:
            self.out_edit.setText(path if path.endswith(".onnx") else path + ".onnx")

    def is_running(self) -> bool:
        return self._thread is not None

    @Slot()
    def start_export(self) -> None:
        """Export the checkpoint to the file named in the dialog, on a worker thread."""
        checkpoint, out = self.checkpoint_edit.text().strip(), self.out_edit.text().strip()
        if self.is_running():
            return
        if not checkpoint or not out:
            self._on_worker_failed("Choose a checkpoint and the ONNX file to write.")
            return
        self._set_running(True)
        self.report.clear()
        self.status.setText(f"Exporting {checkpoint} …")
        thread, worker = QThread(), ExportModelWorker(checkpoint, Path(out))
        thread.setObjectName("export-model")
        worker.moveToThread(thread)
        worker.progressed.connect(self._on_worker_progressed)  # connect before start
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        thread.started.connect(worker.run)
        self._thread, self._worker = thread, worker
        thread.start()

    def _set_running(self, running: bool) -> None:
        self.export_button.setEnabled(not running)
        self.checkpoint_edit.setEnabled(not running)
        self.out_edit.setEnabled(not running)
        if running:
            self.progress.setRange(0, 0)  # busy until the first step arrives

    def _release(self) -> None:
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
            self._worker.deleteLater()
            self._thread.deleteLater()
        self._thread = self._worker = None
        self._set_running(False)

    @Slot(int, int, str)
    def _on_worker_progressed(self, step: int, steps: int, text: str) -> None:
        self.progress.setRange(0, steps)
        self.progress.setValue(step)
        self.status.setText(text)

    @Slot(object)
    def _on_worker_finished(self, result) -> None:
        self._release()
        self.result = result
        self.progress.setValue(self.progress.maximum())
        summary = result.report.summary() if result.report else "self-check skipped"
        self.status.setText(f"Wrote {result.path} ({result.size_bytes / 1e6:.1f} MB): {summary}")
        if result.report is not None:
            self.report.setPlainText(result.report.table())
        self.exported.emit(result)
        self._close_if_asked()

    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        self._release()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(f"Not exported: {message}")
        self.failed.emit(message)
        self._close_if_asked()

    def _close_if_asked(self) -> None:
        if self._close_when_done:
            self._close_when_done = False
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.is_running():  # tracing cannot be interrupted: stay until it ends
            self.status.setText("The export is still running; the dialog closes when it has finished.")
            self._close_when_done = True
            event.ignore()
            return
        event.accept()


def _default_out(checkpoint: str) -> str:
    """model.pth -> model.onnx beside it; a folder (Hugging Face) -> model.onnx inside it."""
    if not checkpoint:
        return ""
    path = Path(checkpoint)
    if path.is_dir():
        return str(path / "model.onnx")
    return str(path.with_suffix(".onnx")) if path.suffix else ""


def install_export_action(window) -> None:
    """File ▸ Export Model… (before Quit), opening the dialog on the model loaded in the window."""
    action = window.actions["export_model"]
    window.menu("&File").insertAction(window.actions["quit"], action)

    def open_dialog() -> ExportModelDialog:
        dialog = getattr(window, "export_dialog", None)
        info = window.state.model.info
        source = info.source if info else ""
        if dialog is None:
            dialog = window.export_dialog = ExportModelDialog(source, window)
        elif source and not dialog.is_running():  # the model loaded now, not the one of last time
            dialog.set_checkpoint(source)
        dialog.show()
        dialog.raise_()
        return dialog

    action.triggered.connect(open_dialog)
