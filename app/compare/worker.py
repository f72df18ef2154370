"""The comparison off the GUI thread: a worker on its own QThread runs `detr_core.compare` and,
for the image on show, decodes it and computes both models' cross-attention for a matched pair.

    controller = CompareController(parent)
    controller.progressed.connect(...); controller.finished.connect(...)   # Comparison
    controller.start(CompareRequest(a, b, gt, image_paths, config))
    controller.show_image(ViewRequest(image_id, path, query_a, query_b))   # -> view_ready(ImageView)

Payloads are immutable and hold no tensors: QImages (made in the worker, which Qt allows) and NumPy.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from detr_core.compare import CompareConfig, Comparison
from detr_core.errors import WorkbenchError
from detr_core.images import load_image

from ..model.heatmap_image import render_map

if TYPE_CHECKING:  # torch is imported by the worker, when it runs: not before the window shows
    from detr_core.infer.detector import Detector


@dataclass(frozen=True)
class CompareRequest:
    a: str  # checkpoint of model A
    b: str
    gt: dict  # the labels (a COCO dict, a copy)
    image_paths: dict  # image id -> file
    config: CompareConfig = field(default_factory=CompareConfig)


@dataclass(frozen=True)
class ViewRequest:
    image_id: int
    path: str
    query_a: int | None = None  # queries whose cross-attention to show side by side
    query_b: int | None = None


@dataclass(frozen=True)
class ImageView:
    image_id: int
    picture: QImage | None  # the decoded image (None: it could not be read)
    heatmap_a: QImage | None = None  # A's query's cross-attention over the whole image
    heatmap_b: QImage | None = None
    message: str = ""


def _picture(rgb: np.ndarray) -> QImage:
    h, w, _ = rgb.shape
    data = np.ascontiguousarray(rgb)
    return QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class CompareWorker(QObject):
    progressed = Signal(int, int)  # images done, total
    finished = Signal(object)  # Comparison
    failed = Signal(str)  # one line
    view_ready = Signal(object)  # ImageView

    def __init__(self, cancel: threading.Event):
        super().__init__()
        self._cancel = cancel
        self._detectors: tuple[Detector, Detector] | None = None

    @Slot(object)
    def compare(self, request: CompareRequest) -> None:
        from detr_core.checkpoints import load_checkpoint
        from detr_core.compare.run import compare_on
        from detr_core.infer.detector import Detector

        try:
            loaded = [load_checkpoint(request.a), load_checkpoint(request.b)]
            comparison = compare_on(*loaded, request.gt, request.image_paths, config=request.config,
                                    device="cpu", progress=lambda done, total, _stage: self.progressed.emit(done, total),
                                    where="the open annotations", should_stop=self._cancel.is_set)
            self._detectors = tuple(Detector(m.model, m.config, m.class_names, device="cpu") for m in loaded)
        except InterruptedError:
            self.failed.emit("Comparison cancelled.")
        except WorkbenchError as e:
            self.failed.emit(str(e))
        except (OSError, RuntimeError, ValueError) as e:  # a model that cannot run: say so, keep the window
            self.failed.emit(f"Comparison failed: {type(e).__name__}: {e}")
        else:
            self.finished.emit(comparison)

    @Slot(object)
    def view(self, request: ViewRequest) -> None:
        try:
            image = load_image(request.path)
        except WorkbenchError as e:
            self.view_ready.emit(ImageView(request.image_id, None, message=str(e)))
            return
        heatmaps, message = [None, None], ""
        try:
            for side, query in enumerate((request.query_a, request.query_b)):
                if query is not None and self._detectors is not None:
                    det = self._detectors[side].detect([image], attention=True)[0]
                    heatmaps[side] = render_map(det.attention, det.attention.decoder[query])
        except (RuntimeError, ValueError, IndexError) as e:  # no attention, but the boxes still show
            message = f"attention of {Path(request.path).name} failed: {type(e).__name__}: {e}"
        self.view_ready.emit(ImageView(request.image_id, _picture(np.asarray(image)), *heatmaps, message=message))


class CompareController(QObject):
    """Owns the worker's thread; forwards its signals; one comparison at a time."""
    progressed = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)
    view_ready = Signal(object)
    _compare_requested = Signal(object)
    _view_requested = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._cancel = threading.Event()
        self._thread = QThread()
        self._thread.setObjectName("compare")
        self._worker = CompareWorker(self._cancel)
        self._worker.moveToThread(self._thread)
        self._compare_requested.connect(self._worker.compare)
        self._view_requested.connect(self._worker.view)
        self._worker.progressed.connect(self.progressed)
        self._worker.finished.connect(self._on_worker_finished)
        self._worker.failed.connect(self._on_worker_failed)
        self._worker.view_ready.connect(self.view_ready)
        self._thread.start()
        self.busy = False
        self.last: Comparison | None = None

    def start(self, request: CompareRequest) -> bool:
        if self.busy:
            return False
        self.busy = True
        self._cancel.clear()
        self._compare_requested.emit(request)
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def show_image(self, request: ViewRequest) -> None:
        self._view_requested.emit(request)

    def _on_worker_finished(self, comparison: Comparison) -> None:
        self.busy, self.last = False, comparison
        self.finished.emit(comparison)

    def _on_worker_failed(self, message: str) -> None:
        self.busy = False
        self.failed.emit(message)

    def shutdown(self) -> None:
        self._cancel.set()
        self._thread.quit()
        self._thread.wait(30_000)


def existing(path: str | Path | None) -> str | None:
    """`path` as a string if it names an existing file, else None. A run's base is described as
    "<what it is> (<path>)": the path in the last parentheses counts too."""
    if not path:
        return None
    text = str(path)
    if Path(text).is_file():
        return text
    if text.endswith(")") and "(" in text:
        inner = text[text.rindex("(") + 1:-1]
        return inner if Path(inner).is_file() else None
    return None
