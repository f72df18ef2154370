"""Pre-annotating many images in the background: `BatchRunner`, owned by ModelState
(`state.model.batch_runner`).

The job runs on the detector thread (one model, one thread: two forward passes would only fight
over the cores), one image per step, so the image on screen still gets its detections between
two batch images. Each result is kept per image as it arrives (the image list marks it); images
that already have predictions from this model at this input size (or failed with it) are skipped. Progress carries
an ETA from the recent pace; cancelling stops before the next image. The runner owns the job's
progress and listens to the client's batch signals itself; its signals are ModelState's
`batch_progressed`, `batch_finished` and (`image_done`) `predictions_changed`.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot

from .detector_client import DetectorClient
from .payloads import BatchItem, BatchSummary, ModelInfo, Resolution
from .prediction_store import PredictionStore

SCOPES = ("all", "listed", "unreviewed")  # every image, those the list's filter shows, those not reviewed
_PACE_WINDOW = 20  # ETA from the last this many images


@dataclass(frozen=True)
class BatchProgress:
    job_id: int
    done: int  # images finished, failed ones included
    total: int
    failed: int
    images_per_second: float
    eta_seconds: float | None  # None until the pace is known
    last_path: str = ""


class BatchRunner(QObject):
    progressed = Signal(object)  # BatchProgress
    finished = Signal(object)  # BatchSummary
    image_done = Signal(int)  # row that got its predictions

    def __init__(self, state, client: DetectorClient, store: PredictionStore,
                 info: Callable[[], ModelInfo | None], resolution: Callable[[], Resolution | None],
                 effective_resolution: Callable[[], Resolution | None], parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.client = client
        self.store = store
        self.info = info  # the loaded model, if any
        self.resolution = resolution  # the input size asked for (None: the checkpoint's own)
        self.effective_resolution = effective_resolution  # ... and the one that will be used
        self.batch: BatchProgress | None = None  # the running job's progress
        self._times: deque[float] = deque(maxlen=_PACE_WINDOW + 1)
        client.batch_progressed.connect(self._on_client_batch_progressed)
        client.batch_finished.connect(self._on_client_batch_finished)

    @property
    def running(self) -> bool:
        return self.batch is not None

    def paths(self, scope: str = "all") -> list[str]:
        """Images `scope` covers that still need this model's predictions."""
        assert scope in SCOPES, f"unknown scope {scope!r}"
        key, resolution = self.info().key, tuple(self.effective_resolution())
        paths = []
        for row in range(self.state.row_count()):
            entry = self.state.entry(row)
            if entry.error is not None or (scope == "listed" and not self.state.matches(row)):
                continue
            if scope == "unreviewed" and self.state.status(row) == "reviewed":
                continue
            stored = self.store.get(entry.path)
            done = stored is not None and (stored.model_key, stored.resolution) == (key, resolution)
            if not done and self.store.failed.get(entry.path) != (key, resolution):
                paths.append(entry.path)
        return paths

    def start(self, scope: str = "all") -> bool:
        """Pre-annotate the images of `scope`; returns whether a job started."""
        if self.info() is None:
            self.state.message.emit("Load a model first.")
            return False
        paths = self.paths(scope)
        if not paths:
            self.state.message.emit("Every image there already has predictions from this model.")
            return False
        job_id = self.client.start_batch(paths, self.resolution())
        self._times.clear()
        self._times.append(time.perf_counter())
        self.batch = BatchProgress(job_id, 0, len(paths), 0, 0.0, None)
        self.progressed.emit(self.batch)
        return True

    def cancel(self) -> None:
        if self.batch is not None:
            self.client.cancel_batch()

    @Slot(object)
    def _on_client_batch_progressed(self, item: BatchItem) -> None:
        job = self.batch
        if job is None or item.job_id != job.job_id:
            return
        if item.detections is None:
            self.store.failed[item.path] = (item.model_key, tuple(item.resolution))
        else:
            self.store.put(item.path, item.model_key, item.resolution, item.detections,
                           fingerprint=item.fingerprint)
            row = self.state.row_of_path(item.path)
            if row is not None:
                self.image_done.emit(row)
        now = time.perf_counter()
        self._times.append(now)
        span = now - self._times[0]
        rate = (len(self._times) - 1) / span if span > 0 else 0.0
        done = job.done + 1
        eta = (job.total - done) / rate if rate > 0 else None
        self.batch = BatchProgress(job.job_id, done, job.total, job.failed + (item.error is not None),
                                   rate, eta, item.path)
        self.progressed.emit(self.batch)

    @Slot(object)
    def _on_client_batch_finished(self, summary: BatchSummary) -> None:
        if self.batch is None or summary.job_id != self.batch.job_id:
            return
        self.batch = None
        ok = summary.done - summary.failed
        rate = f" ({summary.done / summary.seconds:.1f} images/s)" if summary.seconds > 0 and summary.done else ""
        text = (f"Pre-annotation cancelled after {summary.done} of {summary.total} images{rate}."
                if summary.cancelled else
                f"Pre-annotated {ok} of {summary.total} images in {summary.seconds:.0f} s{rate}.")
        if summary.failed:
            text += f" {summary.failed} failed, e.g. {summary.first_error}"
        self.state.message.emit(text)
        self.finished.emit(summary)
