"""ModelState: the model side of AppState (`state.model`): which detector is loaded, its
predictions per image, the confidence threshold, the selected query, how attention is shown,
and the signals that say when any of it changes.

Like AppState with its ImageLoader, it owns the front of a worker (DetectorClient): the model
runs on the detector thread only. Showing an image asks for its detections (with attention) unless
they are cached for this image, model and input size; a newer image supersedes an older request.
Widgets call the methods here and subscribe to the signals; they never call each other.

It is composed of four parts, each owning its state, built here and used through their public
methods (their signals are forwarded to the ones of the same meaning here):
  - `prediction_view` (showing.py): threshold, selected query, heatmap look, which predictions show;
  - `acceptor` (accepting.py): accept / reject, class mapping;
  - `batch_runner` (batching.py): pre-annotating many images;
  - `importer` (importing.py): a COCO results file shown as the predictions.
They share the PredictionStore (`store`) and the DecisionBook (`decisions`), the accept/reject
decisions, which are read from beside the document when it opens and written beside it when it
is saved (`save_decisions`, connected to the session's `saved` by wiring.py), at once when a
decision is all that changed since the last save (a rejection), and when undo or redo brings the
document back to its saved state after decisions were made (the file is the document again, so
nothing would write them: no question on close, and a journal that replays to the file is not
offered); in between they are kept in the document's edit journal (`journaling`,
decision_journal.py), and recovered with it after a crash.
"""
from __future__ import annotations

import re
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QSettings, Signal, Slot

from detr_core.devices import DEVICE_CHOICES
from detr_core.errors import DatasetError
from detr_core.infer.detections import Detections

from ..resources import demo_model
from .accepting import PredictionAcceptor
from .batching import BatchRunner
from .decision_journal import DecisionJournal
from .decisions import DecisionBook
from .detector_client import DetectorClient
from .importing import PredictionImporter
from .payloads import DetectRequest, DetectResult, LoadRequest, ModelInfo, Resolution
from .prediction_store import PredictionStore
from .showing import HeatmapView, PredictionView

DEMO_MODEL = demo_model()  # bundled: found in a checkout and in an installed wheel alike
DEVICES = DEVICE_CHOICES  # from the core that resolves them
_PATH = re.compile(r"(?<![\w:/])/[^\s:]+")  # an absolute path (not the path part of a URL)
SHORT_MESSAGE = 90  # characters a status bar shows whole; a longer failure is shown whole in the panel
__all__ = ["DEMO_MODEL", "DEVICES", "HeatmapView", "ModelState"]


class ModelState(QObject):
    model_changed = Signal(object)  # ModelInfo (a model was loaded)
    options_changed = Signal()  # device, input size or auto-run changed
    loading_changed = Signal(bool)  # a checkpoint is being loaded
    load_failed = Signal(str)  # one line; the previous model is still loaded
    running_changed = Signal(bool)  # the model is working on the image on screen
    detection_failed = Signal(str)  # one line, about the image on screen
    predictions_changed = Signal(int)  # row whose predictions (or accept/reject marks) changed; -1: all
    threshold_changed = Signal(float)
    query_changed = Signal(int)  # selected query of the image on screen (-1: none)
    view_changed = Signal()  # heatmap settings, or predictions shown / hidden
    encoder_point_changed = Signal()  # the image point whose encoder attention is shown
    mapping_needed = Signal(list)  # model class names the class-mapping dialog must ask about
    batch_progressed = Signal(object)  # BatchProgress
    batch_finished = Signal(object)  # BatchSummary

    def __init__(self, state, parent: QObject | None = None):
        super().__init__(parent if parent is not None else state)
        self.state = state
        self.store = PredictionStore()
        self.decisions = DecisionBook()
        self.journaling: DecisionJournal | None = None  # keeps the decisions in the edit journal
        self.client = DetectorClient(self)
        self.settings: QSettings | None = None
        self.info: ModelInfo | None = None
        self.error = ""  # the last load failure, until a load succeeds
        self.device = "auto"
        self.threads = 0  # CPU threads for the model; 0: torch's default (one per core)
        self.min_size: int | None = None  # None: the checkpoint's own input size
        self.auto_run = True  # detect on every image shown
        self.running = False
        self._seconds: dict[str, float] = {}  # model time of each image's last detection, by path
        self._fallback: str | None = None  # loaded if the checkpoint loaded at start fails
        self._unwritten = False  # decisions made since the decisions file was last written
        self.prediction_view = PredictionView(state, self.store, self.decisions, self)
        self.acceptor = PredictionAcceptor(state, self.store, self.decisions, self.prediction_view,
                                           lambda: self.info, self)
        self.batch_runner = BatchRunner(state, self.client, self.store, lambda: self.info,
                                        lambda: self.resolution, self.effective_resolution, self)
        self.importer = PredictionImporter(state, self.store, self)  # File > Import Predictions
        self._forward_signals()
        c = self.client
        c.loaded.connect(self._on_client_loaded)
        c.load_failed.connect(self._on_client_load_failed)
        c.detected.connect(self._on_client_detected)
        c.detect_failed.connect(self._on_client_detect_failed)
        state.current_changed.connect(self._on_state_current_changed)
        state.document_opened.connect(self._on_state_document_opened)
        state.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)

    def _forward_signals(self) -> None:
        view, acceptor, runner = self.prediction_view, self.acceptor, self.batch_runner
        view.threshold_changed.connect(self.threshold_changed)
        view.query_changed.connect(self.query_changed)
        view.view_changed.connect(self.view_changed)
        view.encoder_point_changed.connect(self.encoder_point_changed)
        acceptor.decided.connect(self.predictions_changed)
        acceptor.decided.connect(self._on_acceptor_decided)
        acceptor.mapping_needed.connect(self.mapping_needed)
        runner.image_done.connect(self.predictions_changed)
        runner.progressed.connect(self.batch_progressed)
        runner.finished.connect(self.batch_finished)
        self.importer.imported.connect(lambda _result: self.predictions_changed.emit(-1))

    # -- settings and start-up ----------------------------------------------------------------------
    def use_settings(self, settings: QSettings, autoload: bool = True) -> None:
        """Take the remembered choices; load the last checkpoint, else the bundled demo model."""
        self.settings = settings
        self.device = str(settings.value("model/device", "auto"))
        self.threads = max(0, int(_float(settings.value("model/threads"), 0)))
        size = _float(settings.value("model/min_size"), 0)
        self.min_size = int(size) if size >= 32 else None
        self.auto_run = str(settings.value("model/auto_run", "true")).lower() == "true"
        self.options_changed.emit()
        self.prediction_view.use_settings(settings)
        self.acceptor.use_settings(settings)
        if not autoload:
            return
        remembered = str(settings.value("model/checkpoint", "") or "")
        demo = str(DEMO_MODEL) if DEMO_MODEL.is_file() else None
        if remembered:
            self._fallback = demo if demo != remembered else None
            self.load(remembered)
        elif demo:
            self.load(demo)

    def _remember(self, key: str, value) -> None:
        if self.settings is not None:
            self.settings.setValue(key, value)

    # -- the model ----------------------------------------------------------------------------------
    def load(self, source: str, device: str | None = None, reuse: bool = False) -> None:
        """Load a checkpoint on the worker; the current model stays in use until it is ready."""
        source = str(source).strip()
        if not source:
            self.state.message.emit("Choose a checkpoint first.")
            return
        self.client.load(LoadRequest(source, device or self.device, "fp32", reuse, self.threads))
        self.loading_changed.emit(True)

    @property
    def loading(self) -> bool:
        return self.client.loads_pending > 0

    def set_device(self, device: str) -> None:
        self.device = device
        self._remember("model/device", device)
        self.options_changed.emit()
        if self.info is not None:
            self.load(self.info.source, device, reuse=True)

    def set_threads(self, threads: int) -> None:
        self.threads = max(0, int(threads))
        self._remember("model/threads", self.threads)
        self.options_changed.emit()
        if self.info is not None:
            self.load(self.info.source, reuse=True)

    def set_min_size(self, min_size: int | None) -> None:
        self.min_size = min_size
        self._remember("model/min_size", min_size or 0)
        self.options_changed.emit()
        self.request_current()

    @property
    def resolution(self) -> Resolution | None:
        """The input size asked for: None for the checkpoint's own."""
        if self.min_size is None or self.info is None:
            return None
        low, high = self.info.default_resolution
        return self.min_size, max(self.min_size, round(self.min_size * high / low))

    def effective_resolution(self) -> Resolution | None:
        return self.resolution or (self.info.default_resolution if self.info else None)

    def set_auto_run(self, on: bool) -> None:
        self.auto_run = on
        self._remember("model/auto_run", on)
        self.options_changed.emit()
        if on:
            self.request_current()

    @Slot(object)
    def _on_client_loaded(self, info: ModelInfo) -> None:
        self.info, self.error, self._fallback = info, "", None
        self._remember("model/checkpoint", info.source)
        self.loading_changed.emit(self.loading)
        self.model_changed.emit(info)
        self.prediction_view.select_query(-1)
        self.request_current()

    @Slot(str)
    def _on_client_load_failed(self, message: str) -> None:
        self.error = message
        self.state.message.emit(short_message(message))
        self.load_failed.emit(message)
        fallback, self._fallback = self._fallback, None
        if fallback:
            self.load(fallback)
        self.loading_changed.emit(self.loading)

    # -- the image on screen --------------------------------------------------------------------------
    def request_current(self, force: bool = False) -> None:
        """Ask for the detections of the image on screen (with attention), unless cached."""
        entry = self.state.current_entry()
        if entry is not None and self.importer.active and not force:  # the file's predictions are shown
            self.client.forget_requests()
            self._set_running(False)
            self.predictions_changed.emit(self.state.current_row)
            return
        if self.info is None or entry is None or entry.error is not None or not (self.auto_run or force):
            self.client.forget_requests()
            self._set_running(False)
            return
        if self.store.full(entry.path, self.info.key, self.effective_resolution()) is not None:
            self.client.forget_requests()
            self._set_running(False)
            self.predictions_changed.emit(self.state.current_row)
            return
        if not (self.running and self.client.pending(entry.path, self.resolution)):
            self.client.detect(entry.path, self.resolution, attention=True)
        self._set_running(True)

    def _set_running(self, running: bool) -> None:
        if running != self.running:
            self.running = running
            self.running_changed.emit(running)

    def current_detections(self) -> Detections | None:
        """The detections of the image on screen (prediction_view.current_detections)."""
        return self.prediction_view.current_detections()

    def seconds_for(self, row: int | None) -> float | None:
        """The model time of the last detection of image `row`, or None."""
        entry = self.state.entry(row) if row is not None and row >= 0 else None
        return self._seconds.get(str(entry.path)) if entry is not None else None

    def prediction_count(self, row: int) -> int | None:
        """Predictions shown for image `row`, None if the model has not seen it (the Pred column)."""
        return self.prediction_view.prediction_count(row)

    @Slot(int)
    def _on_state_current_changed(self, row: int) -> None:
        self.prediction_view.reset_image()
        self.request_current()

    # -- decisions, kept with the document ------------------------------------------------------------
    @Slot()
    def _on_state_document_opened(self) -> None:
        """A new document: the decisions saved beside it, or recovered with it from its journal
        (`journaling`, set by the window); annotation ids of the old one mean nothing here."""
        self.acceptor.drop_pending_accept()
        self.importer.forget()
        self._unwritten = False
        document = self.state.document
        try:
            if document is not None and self.journaling is not None:
                self.journaling.load()
            elif document is not None and document.path is not None:
                self.decisions.read(document.path)
            else:
                self.decisions.clear()
        except DatasetError as e:  # the document opens; only the decisions are not applied
            self.state.message.emit(str(e))
        self.predictions_changed.emit(-1)

    @Slot(int)
    def _on_acceptor_decided(self, row: int) -> None:
        """Without unsaved edits the document is its file, so a decision that changed nothing
        else (a rejection) is written at once; otherwise the next save writes it."""
        document = self.state.document
        if document is not None and document.path is not None and not self.state.is_dirty():
            self.save_decisions(str(document.path))
        else:
            self._unwritten = True

    @Slot(int)
    def _on_undo_stack_index_changed(self, _index: int) -> None:
        """Undo or redo came back to the saved state: the document is its file again, so the
        decisions made meanwhile are written beside it now (nothing else would: closing asks
        nothing, and a journal that replays to the file is not offered)."""
        stack, document = self.state.undo_stack, self.state.document
        if not self._unwritten or not shiboken6.isValid(stack):  # a window being destroyed clears it
            return
        back = stack.count() > 0 and stack.isClean()  # (clear(), opening another file, empties it)
        if back and document is not None and document.path is not None:
            self.save_decisions(str(document.path))

    @Slot(str)
    def save_decisions(self, document_path: str) -> None:
        """The document was saved at `document_path`: write the decisions beside it."""
        alive: dict[str, set[int]] = {}

        def in_document(path: str, ann_id: int) -> bool:
            if path not in alive:
                row = self.state.row_of_path(path)
                alive[path] = {a["id"] for a in self.state.annotations(row)} if row is not None else set()
            return ann_id in alive[path]

        try:
            self.decisions.write(document_path, in_document)
            self._unwritten = False
        except DatasetError as e:  # the document itself is saved
            self.state.message.emit(str(e))

    @Slot(object)
    def _on_client_detected(self, result: DetectResult) -> None:
        path = result.request.path
        self._seconds[path] = result.seconds
        self.store.put(path, result.model_key, result.resolution, result.detections, keep_full=True,
                       fingerprint=result.fingerprint)
        if self.client.is_latest(result.request):
            self._set_running(False)
        row = self.state.row_of_path(path)
        if row is not None:
            self.predictions_changed.emit(row)

    @Slot(object, str)
    def _on_client_detect_failed(self, request: DetectRequest, message: str) -> None:
        if self.client.is_latest(request):
            self._set_running(False)
        entry = self.state.current_entry()
        if entry is not None and entry.path == request.path:
            self.state.message.emit(f"Detection failed: {message}")
            self.detection_failed.emit(message)

    def shutdown(self) -> None:
        self.client.shutdown()


def short_message(message: str) -> str:
    """`message` for the status bar: paths shortened to their file names, cut to SHORT_MESSAGE
    characters at a word, pointing to the Model panel for the whole (with Copy)."""
    short = _PATH.sub(lambda m: Path(m.group(0)).name, message)
    if len(short) <= SHORT_MESSAGE and short == message:
        return message
    if len(short) > SHORT_MESSAGE:
        short = short[:SHORT_MESSAGE].rsplit(" ", 1)[0] + "…"
    return f"{short} (the whole message is in the Model panel)"


def _float(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
