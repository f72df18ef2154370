"""`DetectorClient`: the GUI-thread front of the detector worker (the ImageLoader pattern).

It owns the QThread and the `DetectorWorker` on it, turns calls into queued requests and relays
the worker's answers, which arrive on the GUI thread. A new request for the image on screen
supersedes the previous one: the worker skips any request that is no longer the latest when its
turn comes (the user pressed D five times: one model run, not five). Cancelling a batch takes
effect before its next image.
"""
from __future__ import annotations

import threading
from itertools import count

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from ..thread_priority import start_below_gui
from .detector_worker import DetectorWorker
from .payloads import BatchRequest, BatchSummary, DetectRequest, DetectResult, LoadRequest, Resolution


class DetectorClient(QObject):
    loaded = Signal(object)  # ModelInfo
    load_failed = Signal(str)
    detected = Signal(object)  # DetectResult of the latest request
    detect_failed = Signal(object, str)  # DetectRequest, message
    dropped = Signal(object)  # DetectRequest skipped because a newer one came
    batch_progressed = Signal(object)  # BatchItem
    batch_finished = Signal(object)  # BatchSummary
    _load_requested = Signal(object)
    _detect_requested = Signal(object)
    _batch_requested = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._ids = count(1)
        self._lock = threading.Lock()  # guards the two fields below, read by the worker thread
        self._wanted_request = 0
        self._active_job = 0
        self.loads_pending = 0
        self.loads_requested = 0
        self.latest: DetectRequest | None = None  # the last detect request made
        self.batch_job: int | None = None  # the running job, as far as the GUI knows
        self._thread = QThread()
        self._thread.setObjectName("detector")
        self._worker = DetectorWorker(self._is_wanted, self._is_cancelled)
        self._worker.moveToThread(self._thread)
        # Connect before start (napari's rule); answers arrive queued on this (GUI) thread.
        self._load_requested.connect(self._worker.load)
        self._detect_requested.connect(self._worker.detect)
        self._batch_requested.connect(self._worker.start_batch)
        self._worker.loaded.connect(self._on_worker_loaded)
        self._worker.load_failed.connect(self._on_worker_load_failed)
        self._worker.detected.connect(self._on_worker_detected)
        self._worker.detect_failed.connect(self.detect_failed)
        self._worker.dropped.connect(self.dropped)
        self._worker.batch_progressed.connect(self._on_worker_batch_progressed)
        self._worker.batch_finished.connect(self._on_worker_batch_finished)
        # The thread starts when the GUI's event loop first runs, so the window is shown before the
        # first load imports torch (seconds) there; requests made until then wait in its queue.
        self._shut_down = False
        QTimer.singleShot(0, self, self._start_thread)

    def _start_thread(self) -> None:
        if not self._shut_down and not self._thread.isRunning():
            start_below_gui(self._thread)  # the model yields the core to the GUI thread's paints

    # -- requests -----------------------------------------------------------------------------------
    def load(self, request: LoadRequest) -> None:
        self.loads_pending += 1
        self.loads_requested += 1
        self._load_requested.emit(request)

    def detect(self, path: str, resolution: Resolution | None, attention: bool = True) -> DetectRequest:
        """Run on `path`; any earlier detect request not yet started is dropped."""
        request = DetectRequest(next(self._ids), path, resolution, attention, self.loads_requested)
        with self._lock:
            self._wanted_request = request.request_id
        self.latest = request
        self._detect_requested.emit(request)
        return request

    def pending(self, path: str, resolution: Resolution | None) -> bool:
        """Whether the latest request, still wanted, already asks for `path` at `resolution` on
        the model of the last load requested (no need to ask again)."""
        latest = self.latest
        return (latest is not None and self._is_wanted(latest.request_id) and latest.path == path
                and latest.resolution == resolution and latest.after_load == self.loads_requested)

    def forget_requests(self) -> None:
        """Nothing pending is wanted any more (no image on screen)."""
        with self._lock:
            self._wanted_request = 0

    def is_latest(self, request: DetectRequest) -> bool:
        return self._is_wanted(request.request_id)

    def start_batch(self, paths: list[str], resolution: Resolution | None) -> int:
        """Pre-annotate `paths`; a running job is cancelled first. Returns the job id."""
        job_id = next(self._ids)
        with self._lock:
            self._active_job = job_id
        self.batch_job = job_id
        self._batch_requested.emit(BatchRequest(job_id, tuple(paths), resolution))
        return job_id

    def cancel_batch(self) -> None:
        with self._lock:
            self._active_job = 0

    def shutdown(self) -> None:
        """Stop after the current image (a load in progress is waited for)."""
        with self._lock:
            self._wanted_request, self._active_job = 0, 0
        self._shut_down = True
        self._thread.quit()
        self._thread.wait()

    # -- worker side --------------------------------------------------------------------------------
    def _is_wanted(self, request_id: int) -> bool:
        with self._lock:
            return request_id == self._wanted_request

    def _is_cancelled(self, job_id: int) -> bool:
        with self._lock:
            return job_id != self._active_job

    # -- answers (GUI thread) -------------------------------------------------------------------------
    @Slot(object)
    def _on_worker_loaded(self, info) -> None:
        self.loads_pending -= 1
        self.loaded.emit(info)

    @Slot(str)
    def _on_worker_load_failed(self, message: str) -> None:
        self.loads_pending -= 1
        self.load_failed.emit(message)

    @Slot(object)
    def _on_worker_detected(self, result: DetectResult) -> None:
        if result.request is self.latest:
            self.latest = None
        self.detected.emit(result)

    @Slot(object)
    def _on_worker_batch_progressed(self, item) -> None:
        if item.job_id == self.batch_job:
            self.batch_progressed.emit(item)

    @Slot(object)
    def _on_worker_batch_finished(self, summary: BatchSummary) -> None:
        if summary.job_id == self.batch_job:
            self.batch_job = None
        self.batch_finished.emit(summary)
