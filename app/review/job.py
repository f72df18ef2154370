"""`ReviewJob`: runs `python -m detr_core review ... --jsonl` as a child process and turns its
stdout lines into signals, one ImageReview at a time. Never touches a widget."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal, Slot

from detr_core.review.config import ReviewConfig
from detr_core.review.queue import ImageReview


FOLD_LINE = "detr-workbench review: fold"


class ReviewJob(QObject):
    described = Signal(dict)  # the queue, before any image: {"kind", "model", "honesty", "class_mapping"}
    image_reviewed = Signal(object)  # ImageReview, as each image's result arrives
    finished = Signal(str)  # the findings file written
    failed = Signal(str)  # one line
    progress = Signal(str)  # cross-fit: the child's "fold i/K: training on N images" lines, as they come

    def __init__(self, checkpoint: str | Path, out: str | Path, *, json_path: str | Path | None = None,
                 images: str | Path | None = None, image_list: str | Path | None = None,
                 cfg: ReviewConfig = ReviewConfig(), device: str = "cpu", folds: int | None = None,
                 fold_train: str | None = None, fold_dir: str | Path | None = None, parent=None):
        super().__init__(parent)
        self.cfg = cfg
        defaults = ReviewConfig()
        settings = [f"{k}={v}" for k, v in cfg.to_dict().items() if v != getattr(defaults, k)]
        self.arguments = ["-m", "detr_core", "review", "--checkpoint", str(checkpoint), "--out", str(out),
                          "--device", device, "--jsonl"]
        if json_path is not None:
            self.arguments += ["--json", str(json_path)]
        if images is not None:
            self.arguments += ["--images", str(images)]
        if image_list is not None:  # unlabelled: these images (a text file, one path a line)
            self.arguments += ["--image-list", str(image_list)]
        if folds is not None:  # cross-fit: the fold runs go next to the findings file
            fold_dir = fold_dir if fold_dir is not None else Path(out).with_name(Path(out).stem + "_folds")
            self.arguments += ["--folds", str(folds), "--fold-train", fold_train or "", "--fold-dir", str(fold_dir)]
        for s in settings:
            self.arguments += ["--set", s]
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._on_process_output)
        self.process.readyReadStandardError.connect(self._on_process_error_output)
        self.process.finished.connect(self._on_process_finished)
        self.process.errorOccurred.connect(self._on_process_error)
        self._buffer = b""
        self._err_buffer = b""
        self._err_lines: list[str] = []  # the child's stderr, kept for the failed line
        self._out = str(out)
        self._ended = False
        self._started = 0.0

    def start(self) -> None:
        self._started = time.time()
        self.process.start(sys.executable, self.arguments)

    def cancel(self) -> None:
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.terminate()

    @Slot()
    def _on_process_output(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not ours (a library printing on stdout)
            if event.get("type") == "image":
                self.image_reviewed.emit(ImageReview.from_dict(event))
            elif event.get("type") == "queue":
                self.described.emit(event)

    @Slot()
    def _on_process_error_output(self) -> None:
        self._err_buffer += bytes(self.process.readAllStandardError())
        *lines, self._err_buffer = self._err_buffer.replace(b"\r", b"\n").split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            self._err_lines = (self._err_lines + [line])[-200:]
            if line.startswith(FOLD_LINE):
                self.progress.emit(line[len("detr-workbench review: "):])

    @Slot(int, QProcess.ExitStatus)
    def _on_process_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._on_process_output()
        if self._ended:
            return
        self._ended = True
        # Exit 1 with a findings file: some images could not be read (they are listed in it).
        out = Path(self._out)
        written = out.is_file() and out.stat().st_mtime >= self._started - 1
        if status == QProcess.ExitStatus.NormalExit and code in (0, 1) and written:
            self.finished.emit(self._out)
            return
        self._on_process_error_output()
        err = self._err_lines + [self._err_buffer.decode("utf-8", "replace").strip()] * bool(self._err_buffer.strip())
        errors = [line for line in err if "error:" in line]
        self.failed.emit((errors or err or [f"review stopped (exit code {code})"])[-1])

    @Slot(QProcess.ProcessError)
    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self._ended:
            self._ended = True
            self.failed.emit(f"{sys.executable}: cannot start the review ({self.process.errorString()})")
