"""What the screen shows of the predictions (mixed into ModelState): the detections of an image,
which of them pass the threshold and are neither accepted nor rejected, the selected query and
how its attention is drawn. Nothing here runs the model."""
from __future__ import annotations

import dataclasses

from detr_core.infer.detections import Detection, Detections

from .prediction_store import KEEP_FLOOR, REJECTED


class ShowingMixin:
    """Needs from ModelState: state, store, threshold, selected_query, view, predictions_visible,
    encoder_point, _remember and the signals it emits."""

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

    def _handled(self, row: int) -> dict[int, int]:
        """query -> annotation id (still in the document) or REJECTED, for image `row`."""
        marks = self.store.marks_of(self.state.entry(row).path)
        if not marks:
            return {}
        existing = {a["id"] for a in self.state.annotations(row)}
        return {q: v for q, v in marks.items() if v == REJECTED or v in existing}

    def query_status(self, query: int, row: int | None = None) -> str:
        """"accepted", "rejected" or "" for a query of image `row` (default: on screen)."""
        value = self._handled(self.state.current_row if row is None else row).get(query)
        return "" if value is None else "rejected" if value == REJECTED else "accepted"

    def visible_predictions(self, row: int | None = None, threshold: float | None = None) -> list[Detection]:
        """Predictions of image `row` at or above the threshold, best first, neither accepted
        (while their annotation exists: undo brings them back) nor rejected."""
        row = self.state.current_row if row is None else row
        detections = self.detections_for(row)
        if detections is None:
            return []
        handled = self._handled(row)
        floor = self.threshold if threshold is None else threshold
        return [d for d in detections.filter(max(floor, KEEP_FLOOR)) if d.query not in handled]

    def prediction_count(self, row: int) -> int | None:
        """Predictions shown for image `row` (None: the model has not seen it)."""
        if self.store.get(self.state.entry(row).path) is None:
            return None
        return len(self.visible_predictions(row))

    def set_threshold(self, threshold: float) -> None:
        threshold = min(max(float(threshold), KEEP_FLOOR), 1.0)
        if threshold != self.threshold:
            self.threshold = threshold
            self._remember("model/threshold", threshold)
            self.threshold_changed.emit(threshold)

    def set_predictions_visible(self, visible: bool) -> None:
        self.predictions_visible = visible
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

    def set_view(self, **changes) -> None:
        self.view = dataclasses.replace(self.view, **changes)
        self._remember("model/colormap", self.view.colormap)
        self._remember("model/opacity", self.view.opacity)
        self.view_changed.emit()

    def set_encoder_point(self, x: float, y: float) -> None:
        self.encoder_point = (float(x), float(y))
        self.encoder_point_changed.emit()
