"""ModelState: the model side of AppState (`state.model`): which detector is loaded, its
predictions per image, the confidence threshold, the selected query, how attention is shown,
and the signals that say when any of it changes.

Like AppState with its ImageLoader, it owns the front of a worker (DetectorClient): the model
runs on the detector thread only. Showing an image asks for its detections (with attention) unless
they are cached for this image, model and input size; a newer image supersedes an older request.
Widgets call the methods here and subscribe to the signals; they never call each other.
What is shown (showing.py), accepting predictions (accepting.py) and pre-annotating folders
(batching.py) are mixed in.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QSettings, Signal, Slot

from detr_core.devices import DEVICE_CHOICES

from ..resources import demo_model
from .accepting import AcceptMixin
from .batching import BatchMixin
from .detector_client import DetectorClient
from .payloads import DetectRequest, DetectResult, LoadRequest, ModelInfo, Resolution
from .prediction_store import PredictionStore
from .showing import ShowingMixin

DEMO_MODEL = demo_model()  # bundled: found in a checkout and in an installed wheel alike
DEVICES = DEVICE_CHOICES  # from the core that resolves them


@dataclass(frozen=True)
class HeatmapView:
    visible: bool = True  # draw the selected query's (or point's) attention over the image
    mode: str = "decoder"  # "decoder": a query's cross-attention; "encoder": where a point attends
    colormap: str = "inferno"
    opacity: float = 0.55
    smooth: bool = True  # bilinear between feature cells, or one flat colour per cell
    topk: int = 6  # queries in the attention grid


class ModelState(QObject, ShowingMixin, AcceptMixin, BatchMixin):
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
        self.client = DetectorClient(self)
        self.settings: QSettings | None = None
        self.info: ModelInfo | None = None
        self.error = ""  # the last load failure, until a load succeeds
        self.threshold = 0.7
        self.device = "auto"
        self.threads = 0  # CPU threads for the model; 0: torch's default (one per core)
        self.min_size: int | None = None  # None: the checkpoint's own input size
        self.auto_run = True  # detect on every image shown
        self.running = False
        self.last_seconds: float | None = None  # model time of the last result for the screen
        self.selected_query = -1
        self.predictions_visible = True
        self.view = HeatmapView()
        self.encoder_point: tuple[float, float] | None = None
        self._fallback: str | None = None  # loaded if the checkpoint loaded at start fails
        self._init_accepting()
        self._init_batching()
        c = self.client
        c.loaded.connect(self._on_client_loaded)
        c.load_failed.connect(self._on_client_load_failed)
        c.detected.connect(self._on_client_detected)
        c.detect_failed.connect(self._on_client_detect_failed)
        c.batch_progressed.connect(self._on_client_batch_progressed)
        c.batch_finished.connect(self._on_client_batch_finished)
        state.current_changed.connect(self._on_state_current_changed)
        state.document_opened.connect(self._on_state_document_opened)

    # -- settings and start-up ----------------------------------------------------------------------
    def use_settings(self, settings: QSettings, autoload: bool = True) -> None:
        """Take the remembered choices; load the last checkpoint, else the bundled demo model."""
        self.settings = settings
        self.threshold = _float(settings.value("model/threshold"), 0.7)
        self.device = str(settings.value("model/device", "auto"))
        self.threads = max(0, int(_float(settings.value("model/threads"), 0)))
        size = _float(settings.value("model/min_size"), 0)
        self.min_size = int(size) if size >= 32 else None
        self.auto_run = str(settings.value("model/auto_run", "true")).lower() == "true"
        self.view = HeatmapView(colormap=str(settings.value("model/colormap", "inferno")),
                                opacity=_float(settings.value("model/opacity"), 0.55))
        self.options_changed.emit()
        self.threshold_changed.emit(self.threshold)
        self.view_changed.emit()
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
        self.select_query(-1)
        self.request_current()

    @Slot(str)
    def _on_client_load_failed(self, message: str) -> None:
        self.error = message
        self.state.message.emit(message)
        self.load_failed.emit(message)
        fallback, self._fallback = self._fallback, None
        if fallback:
            self.load(fallback)
        self.loading_changed.emit(self.loading)

    # -- the image on screen --------------------------------------------------------------------------
    def request_current(self, force: bool = False) -> None:
        """Ask for the detections of the image on screen (with attention), unless cached."""
        entry = self.state.current_entry()
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

    @Slot(int)
    def _on_state_current_changed(self, row: int) -> None:
        self.selected_query = -1
        self.encoder_point = None
        self.query_changed.emit(-1)
        self.request_current()

    @Slot()
    def _on_state_document_opened(self) -> None:
        self.store.clear_marks()
        self.predictions_changed.emit(-1)

    @Slot(object)
    def _on_client_detected(self, result: DetectResult) -> None:
        path = result.request.path
        self.store.put(path, result.model_key, result.resolution, result.detections, keep_full=True)
        if self.client.is_latest(result.request):
            self.last_seconds = result.seconds
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


def _float(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
