"""The detector's thread: `DetectorWorker` owns the `Detector` and is the only code that runs it.

It lives on its own QThread (see detector_client.py) and takes requests as queued slot calls:
loading a checkpoint, detecting on the current image, and pre-annotating a list of images. A
batch advances one image per event (it re-posts its next step), so a request for the image on
screen is served between two batch images instead of after the whole batch: one thread, one
model, and no two forward passes fighting over the CPU cores. Keep every torch computation of the
window's process on this thread: a second thread that runs torch ops gets its own OpenMP team, and
once libgomp manages more threads than there are cores it stops spin-waiting between parallel
regions; each of the model's hundreds of regions per image then pays a wake-up (measured here:
the demo model ~25 % slower while an idle second team merely exists).

Every failure is caught here, at the worker boundary, and sent back as a one-line message; the
previous model stays loaded when a new one cannot be.
"""
from __future__ import annotations

import logging
import time
from itertools import count
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from detr_core.errors import WorkbenchError

from .payloads import (BatchItem, BatchRequest, BatchSummary, DetectRequest, DetectResult, LoadRequest,
                       ModelInfo, Resolution)

log = logging.getLogger(__name__)
_generations = count(1)
_default_threads: list[int] = []  # torch's choice for this machine (one per core), read at the first load


def default_threads() -> int:
    """torch's own thread count, as it was before any load set it. torch is imported here, on the
    detector thread, so the window shows before torch (about 3.5 s) is loaded."""
    import torch

    if not _default_threads:
        _default_threads.append(torch.get_num_threads())
    return _default_threads[0]


def describe_error(error: BaseException) -> str:
    """One line for the status bar: our own errors say it all, others get their type."""
    if isinstance(error, WorkbenchError):
        return str(error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class DetectorWorker(QObject):
    """Never touches a widget. Payloads are frozen dataclasses of CPU data (payloads.py)."""

    loaded = Signal(object)  # ModelInfo
    load_failed = Signal(str)  # one-line message
    detected = Signal(object)  # DetectResult
    detect_failed = Signal(object, str)  # DetectRequest, one-line message
    dropped = Signal(object)  # DetectRequest superseded before its turn
    batch_progressed = Signal(object)  # BatchItem
    batch_finished = Signal(object)  # BatchSummary
    _step_posted = Signal()

    def __init__(self, is_wanted: Callable[[int], bool], is_cancelled: Callable[[int], bool]):
        super().__init__()
        self._is_wanted = is_wanted
        self._is_cancelled = is_cancelled
        self._detector = None  # detr_core.infer.detector.Detector
        self._checkpoint = None  # the LoadedCheckpoint it was built from (kept for device moves)
        self._info: ModelInfo | None = None
        self._batch: BatchRequest | None = None
        self._batch_index = 0
        self._batch_failed = 0
        self._batch_started = 0.0
        self._batch_error: str | None = None
        self._step_posted.connect(self._on_batch_step, Qt.ConnectionType.QueuedConnection)

    # -- loading ------------------------------------------------------------------------------------
    @Slot(object)
    def load(self, request: LoadRequest) -> None:
        started = time.perf_counter()
        threads = default_threads()  # imports torch (the first time), on this thread
        threads = request.threads or threads
        import torch

        from detr_core.checkpoints import load_checkpoint
        from detr_core.devices import available_devices
        from detr_core.infer.detector import Detector

        from .fingerprint import fingerprint

        try:
            reuse = request.reuse and self._checkpoint is not None and self._info is not None \
                and self._info.source == request.source
            checkpoint = self._checkpoint if reuse else load_checkpoint(request.source)
            detector = Detector(checkpoint.model, checkpoint.config, checkpoint.class_names,
                                device=request.device, precision=request.precision,
                                description=checkpoint.description,
                                category_ids=checkpoint.metadata.get("category_ids"))
            # This thread's intra-op pool: fewer threads leave a core to the GUI or other jobs.
            # Only set when it changes: setting it also builds a second (idle) thread pool.
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            weights = self._info.fingerprint if reuse else \
                fingerprint(checkpoint.model, checkpoint.config, checkpoint.class_names)
        except WorkbenchError as e:  # a bad file, an unknown device: the message says it all
            self.load_failed.emit(str(e))
            return
        except Exception as e:  # worker boundary: report, keep the previous model
            log.exception("loading %s failed", request.source)
            self.load_failed.emit(f"{request.source}: cannot load ({describe_error(e)})")
            return
        config = checkpoint.config
        self._detector, self._checkpoint = detector, checkpoint
        self._info = ModelInfo(
            key=f"{next(_generations)}:{request.source}", source=request.source,
            description=checkpoint.description, class_names=tuple(checkpoint.class_names),
            device=str(detector.device), threads=torch.get_num_threads(), precision=request.precision,
            default_resolution=(config.min_size, config.max_size), num_queries=config.num_queries,
            seconds=time.perf_counter() - started, fingerprint=weights,
            available_devices=tuple(available_devices()), backbone=config.backbone)
        self.loaded.emit(self._info)

    # -- the image on screen ------------------------------------------------------------------------
    @Slot(object)
    def detect(self, request: DetectRequest) -> None:
        if not self._is_wanted(request.request_id):
            self.dropped.emit(request)
            return
        if self._detector is None:
            self.detect_failed.emit(request, "No model loaded.")
            return
        try:
            detections, resolution, seconds = self._run(request.path, request.resolution, request.attention)
        except Exception as e:  # worker boundary: a bad image, a device gone, out of memory
            message = describe_error(e)
            if not isinstance(e, WorkbenchError):
                log.exception("detection on %s failed", request.path)
                if self._detector.device.type != "cpu":
                    message += f" (on {self._detector.device}: if it is gone, choose CPU in the Model panel)"
            self.detect_failed.emit(request, message)
            return
        self.detected.emit(DetectResult(request, self._info.key, resolution, detections, seconds,
                                        self._info.fingerprint))

    def _run(self, path: str, resolution: Resolution | None, attention: bool):
        detector = self._detector
        resolution = resolution or self._info.default_resolution
        detector.min_size, detector.max_size = resolution
        started = time.perf_counter()
        detections = detector.detect(path, attention=attention)
        return detections, resolution, time.perf_counter() - started

    # -- pre-annotation -----------------------------------------------------------------------------
    @Slot(object)
    def start_batch(self, request: BatchRequest) -> None:
        if self._batch is not None:  # a new job replaces the old one (the client cancelled it)
            self._finish_batch(cancelled=True)
        if self._detector is None:
            self.batch_finished.emit(BatchSummary(request.job_id, len(request.paths), 0, 0, True, 0.0,
                                                  "No model loaded."))
            return
        self._batch, self._batch_index, self._batch_failed = request, 0, 0
        self._batch_started, self._batch_error = time.perf_counter(), None
        self._step_posted.emit()

    @Slot()
    def _on_batch_step(self) -> None:
        job = self._batch
        if job is None:
            return
        if self._is_cancelled(job.job_id) or self._batch_index >= len(job.paths):
            self._finish_batch(cancelled=self._batch_index < len(job.paths))
            return
        index = self._batch_index
        path = job.paths[index]
        self._batch_index += 1
        detections, error, resolution, seconds = None, None, job.resolution, 0.0
        try:
            detections, resolution, seconds = self._run(path, job.resolution, attention=False)
        except Exception as e:  # worker boundary: one bad image does not stop the batch
            if not isinstance(e, WorkbenchError):
                log.exception("pre-annotating %s failed", path)
            error = describe_error(e)
            self._batch_failed += 1
            self._batch_error = self._batch_error or error
        self.batch_progressed.emit(BatchItem(job.job_id, index, path, self._info.key,
                                             resolution or self._info.default_resolution,
                                             detections, error, seconds, self._info.fingerprint))
        self._step_posted.emit()  # queued: requests for the image on screen go first

    def _finish_batch(self, cancelled: bool) -> None:
        job = self._batch
        self._batch = None
        self.batch_finished.emit(BatchSummary(job.job_id, len(job.paths), self._batch_index, self._batch_failed,
                                              cancelled, time.perf_counter() - self._batch_started,
                                              self._batch_error))
