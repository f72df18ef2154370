"""What the screen shows of the predictions: `PredictionView`, owned by ModelState
(`state.model.prediction_view`).

It owns the confidence threshold, the selected query, whether predictions are shown, how
attention is drawn (HeatmapView) and the encoder point, and answers which detections of an image
pass the threshold and are neither accepted nor rejected (the decisions, decisions.py). Nothing
here runs the model. Its signals are ModelState's signals of the same names.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from PySide6.QtCore import QObject, QSettings, Signal

from detr_core.infer.detections import Detection, Detections

from .decisions import REJECTED, DecisionBook
from .prediction_store import KEEP_FLOOR, PredictionStore


@dataclass(frozen=True)
class HeatmapView:
    visible: bool = True  # draw the selected query's (or point's) attention over the image
    mode: str = "decoder"  # "decoder": a query's cross-attention; "encoder": where a point attends
    colormap: str = "inferno"
    opacity: float = 0.55
    smooth: bool = True  # bilinear between feature cells, or one flat colour per cell
    topk: int = 6  # queries in the attention grid


class PredictionView(QObject):
    threshold_changed = Signal(float)
    query_changed = Signal(int)  # selected query of the image on screen (-1: none)
    view_changed = Signal()  # heatmap settings, or predictions shown / hidden
    encoder_point_changed = Signal()  # the image point whose encoder attention is shown

    def __init__(self, state, store: PredictionStore, decisions: DecisionBook, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.store = store
        self.decisions = decisions
        self.settings: QSettings | None = None
        self.threshold = 0.7
        self.selected_query = -1
        self.predictions_visible = True
        self.view = HeatmapView()
        self.encoder_point: tuple[float, float] | None = None

    def use_settings(self, settings: QSettings) -> None:
        """Take the remembered threshold and heatmap look; remember changes there from now on."""
        self.settings = settings
        self.threshold = _float(settings.value("model/threshold"), 0.7)
        self.view = HeatmapView(colormap=str(settings.value("model/colormap", "inferno")),
                                opacity=_float(settings.value("model/opacity"), 0.55))
        self.threshold_changed.emit(self.threshold)
        self.view_changed.emit()

    def _remember(self, key: str, value) -> None:
        if self.settings is not None:
            self.settings.setValue(key, value)

    # -- detections of an image -----------------------------------------------------------------------
    def detections_for(self, row: int) -> Detections | None:
        """Every stored query of image `row`: all of them with attention when cached, else the
        compact set kept per image."""
        if not 0 <= row < self.state.row_count():
            return None
        path = self.state.entry(row).path
        stored = self.store.get(path)
        if stored is None:
            return None
        full = self.store.full(path, stored.model_key, stored.resolution)
        return full if full is not None else stored.detections

    def current_detections(self) -> Detections | None:
        return self.detections_for(self.state.current_row)

    def handled(self, row: int) -> dict[int, int]:
        """query -> annotation id (still in the document) or REJECTED, for image `row`, as
        decided for the model and input size of its stored predictions."""
        path = self.state.entry(row).path
        stored = self.store.get(path)
        if stored is None:
            return {}
        marks = self.decisions.of(path, stored.fingerprint, stored.resolution)
        if not marks:
            return {}
        existing = {a["id"] for a in self.state.annotations(row)}
        return {q: v for q, v in marks.items() if v == REJECTED or v in existing}

    def query_status(self, query: int, row: int | None = None) -> str:
        """"accepted", "rejected" or "" for a query of image `row` (default: on screen)."""
        row = self.state.current_row if row is None else row
        value = self.handled(row).get(query) if 0 <= row < self.state.row_count() else None
        return "" if value is None else "rejected" if value == REJECTED else "accepted"

    def visible_predictions(self, row: int | None = None, threshold: float | None = None) -> list[Detection]:
        """Predictions of image `row` at or above the threshold, best first, neither accepted
        (while their annotation exists: undo brings them back) nor rejected."""
        row = self.state.current_row if row is None else row
        detections = self.detections_for(row)
        if detections is None:
            return []
        handled = self.handled(row)
        floor = self.threshold if threshold is None else threshold
        return [d for d in detections.filter(max(floor, KEEP_FLOOR)) if d.query not in handled]

    def prediction_count(self, row: int) -> int | None:
        """Predictions shown for image `row` (None: the model has not seen it): the length of
        visible_predictions(row), counted without building them (the Pred column asks for every
        row it paints)."""
        detections = self.detections_for(row) if 0 <= row < self.state.row_count() else None
        if detections is None:
            return None
        handled = self.handled(row)
        queries = detections.query[detections.select(max(self.threshold, KEEP_FLOOR))]
        return sum(1 for q in queries.tolist() if q not in handled) if handled else len(queries)

    # -- what is shown --------------------------------------------------------------------------------
    def set_threshold(self, threshold: float) -> None:
        threshold = min(max(float(threshold), KEEP_FLOOR), 1.0)
        if threshold != self.threshold:
            self.threshold = threshold
            self._remember("model/threshold", threshold)
            self.threshold_changed.emit(threshold)

    def set_predictions_visible(self, visible: bool) -> None:
        self.predictions_visible = visible
        self.view_changed.emit()

    def set_view(self, **changes) -> None:
        self.view = dataclasses.replace(self.view, **changes)
        self._remember("model/colormap", self.view.colormap)
        self._remember("model/opacity", self.view.opacity)
        self.view_changed.emit()

    # -- queries and attention ------------------------------------------------------------------------
    def select_query(self, query: int) -> None:
        if query != self.selected_query:
            self.selected_query = query
            self.query_changed.emit(query)

    def step_query(self, step: int) -> None:
        """Select the next (step 1) or previous (-1) prediction by score, wrapping around; all
        queries when none is above the threshold."""
        order = [d.query for d in self.visible_predictions()]
        if not order:
            detections = self.current_detections()
            order = [int(detections.query[i]) for i in detections.select()] if detections is not None else []
        if not order:
            self.state.message.emit("No predictions on this image.")
            return
        if self.selected_query in order:
            self.select_query(order[(order.index(self.selected_query) + step) % len(order)])
        else:
            self.select_query(order[0] if step > 0 else order[-1])

    def select_next(self) -> None:
        """After accepting or rejecting one, go on to the best one left (keyboard review)."""
        left = self.visible_predictions()
        self.select_query(left[0].query if left else -1)

    def set_encoder_point(self, x: float, y: float) -> None:
        self.encoder_point = (float(x), float(y))
        self.encoder_point_changed.emit()

    def reset_image(self) -> None:
        """Another image is on screen: no query selected, no encoder point."""
        self.selected_query = -1
        self.encoder_point = None
        self.query_changed.emit(-1)


def _float(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
