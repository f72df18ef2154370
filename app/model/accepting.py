"""Accepting and rejecting predictions: `PredictionAcceptor`, owned by ModelState
(`state.model.acceptor`).

An accepted prediction becomes an ordinary annotation through `state.edits.add_boxes`: one undo step,
whatever it took (new classes are created in the same step). Accepting everything above the
threshold on an image nobody labelled marks it "predicted"; accepting one by one is an edit like
drawing ("edited"). The prediction is hidden while its annotation exists, so undo brings it back.

Model classes become dataset classes by name (class_mapping.py); when names differ,
`mapping_needed` asks the class-mapping dialog, which answers with `set_class_choices`.
Each accept or reject is recorded in the DecisionBook (decisions.py) for the model and input size
of the image's predictions, and `decided` says which image changed. An accept's undo step and its
decisions are one user action for the edit journal (`undo_stack.action()`): one frame, so a crash
recovers the box with its decision or neither. While a big document is being written on a worker
(`state.busy`, "Saving…") accept and reject are refused with a message, as edits and undo are.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable

from PySide6.QtCore import QObject, QSettings, Signal

from detr_core.coco.validate import bbox_problem
from detr_core.infer.detections import Detection

from ..document.editing import BUSY_MESSAGE
from .class_mapping import (IGNORE, NEW, ClassChoice, choices_from_json, choices_to_json, find_category,
                            resolve, settings_key)
from .decisions import REJECTED, DecisionBook
from .payloads import ModelInfo
from .prediction_store import PredictionStore
from .prelabels import PrelabelLog
from .showing import PredictionView

MIN_SIDE = 0.5  # image pixels; thinner predictions (after clipping to the image) are not boxes


def clipped_xywh(box_xyxy, width: int, height: int) -> list[float] | None:
    """A predicted box cut to the image, as COCO [x, y, w, h]; None if nothing is left."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    x0, x1 = min(max(x0, 0.0), width), min(max(x1, 0.0), width)
    y0, y1 = min(max(y0, 0.0), height), min(max(y1, 0.0), height)
    if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
        return None
    bbox = [x0, y0, x1 - x0, y1 - y0]
    return bbox if bbox_problem(bbox) is None else None


class PredictionAcceptor(QObject):
    decided = Signal(int)  # row whose predictions were accepted or rejected (ModelState: predictions_changed)
    mapping_needed = Signal(list)  # model class names the class-mapping dialog must ask about

    def __init__(self, state, store: PredictionStore, decisions: DecisionBook, shown: PredictionView,
                 info: Callable[[], ModelInfo | None], parent: QObject | None = None,
                 prelabels: PrelabelLog | None = None):
        super().__init__(parent)
        self.state = state
        self.store = store
        self.decisions = decisions
        self.shown = shown  # what is on screen: the selection, the threshold, the visible ones
        self.info = info  # the loaded model, if any
        self.prelabels = prelabels if prelabels is not None else PrelabelLog()  # what each model proposed
        self.settings: QSettings | None = None
        self._pending_accept: tuple[str, list[int], bool] | None = None  # (path, queries, bulk)
        self._session_choices: dict[str, ClassChoice] = {}  # without settings (bare AppState)

    def use_settings(self, settings: QSettings) -> None:
        """Remember the class-mapping answers there, per checkpoint."""
        self.settings = settings

    # -- class mapping --------------------------------------------------------------------------------
    def class_choices(self) -> dict[str, ClassChoice]:
        """The mapping-dialog answers remembered for the loaded checkpoint."""
        info = self.info()
        if self.settings is None or info is None:
            return dict(self._session_choices)
        return choices_from_json(self.settings.value(settings_key(info.source), ""))

    def set_class_choices(self, choices: dict[str, ClassChoice], retry: bool = True) -> None:
        """Remember `choices` for this checkpoint; finish an accept that was waiting for them."""
        merged, info = {**self.class_choices(), **choices}, self.info()
        if self.settings is not None and info is not None:
            self.settings.setValue(settings_key(info.source), choices_to_json(merged))
        else:
            self._session_choices = merged
        pending, self._pending_accept = self._pending_accept, None
        entry = self.state.current_entry()
        if retry and pending is not None and entry is not None and entry.path == pending[0]:
            self.accept(pending[1], bulk=pending[2])

    def drop_pending_accept(self) -> None:
        self._pending_accept = None

    def category_for(self, model_name: str) -> int | None:
        """The dataset class a model class is drawn as (None: not mapped yet, or ignored)."""
        decided, _ = resolve([model_name], self.state.categories(), self.class_choices())
        choice = decided.get(model_name)
        if choice is None or choice.kind == IGNORE:
            return None
        found = find_category(self.state.categories(), choice.name)
        return found["id"] if found else None

    # -- accept / reject ------------------------------------------------------------------------------
    def accept_selected(self) -> None:
        if self.shown.selected_query < 0:
            self.state.message.emit("Select a prediction first: click it, or press ] for the best one.")
            return
        self.accept([self.shown.selected_query])

    def accept_all(self) -> None:
        """Every prediction at or above the threshold on the image on screen."""
        chosen = self.shown.visible_predictions()
        if not chosen:
            self.state.message.emit(f"No predictions at or above {self.shown.threshold:.2f} to accept.")
            return
        self.accept([d.query for d in chosen], bulk=True)

    def accept(self, queries: list[int], bulk: bool = False) -> list[int]:
        """Turn these queries' predictions on the image on screen into annotations (one undo
        step). Returns the new annotation ids ([] when nothing was added or the dialog asks)."""
        row, entry = self.state.current_row, self.state.current_entry()
        if entry is None or self.state.document is None or self._refused_while_saving():
            return []
        wanted = set(queries)
        floor = self.shown.threshold if bulk else 0.0
        chosen = [d for d in self.shown.visible_predictions(row, threshold=floor) if d.query in wanted]
        if not chosen:
            self.state.message.emit("Nothing to accept: that prediction is already accepted or rejected.")
            return []
        decided, unresolved = resolve([d.name for d in chosen], self.state.categories(), self.class_choices())
        if unresolved:
            self._pending_accept = (entry.path, [d.query for d in chosen], bulk)
            self.mapping_needed.emit(unresolved)
            return []
        return self._add_accepted(row, chosen, decided, bulk)

    def _add_accepted(self, row: int, chosen: list[Detection], decided: dict[str, ClassChoice],
                      bulk: bool) -> list[int]:
        width, height = self.shown.current_detections().image_size
        kept, ignored = [], 0
        for d in chosen:
            bbox = clipped_xywh(d.box_xyxy, width, height)
            if decided[d.name].kind == IGNORE or bbox is None:
                ignored += 1
            else:
                kept.append((d, decided[d.name], bbox))
        if not kept:
            self.state.message.emit("Nothing accepted: the class mapping ignores these predictions.")
            return []
        categories = self.state.categories()
        new_names = sorted({c.name for _, c, _ in kept if c.kind == NEW and find_category(categories, c.name) is None})
        mark_predicted = bulk and self.state.status(row) == "unlabelled"
        text = (f"Accept {kept[0][0].name} prediction ({kept[0][0].score:.2f})" if len(kept) == 1
                else f"Accept {len(kept)} predictions")
        with self.state.undo_stack.action():  # the step and its decisions: one journal frame
            ids = self._add_boxes(row, kept, new_names, mark_predicted, text)
        if ids and ignored:
            self.state.message.emit(f"Accepted {len(ids)}; {ignored} skipped (ignored class or empty box).")
        self.decided.emit(row)
        if ids and not bulk:
            self.shown.select_next()
        return ids

    def _add_boxes(self, row: int, kept: list, new_names: list[str], mark_predicted: bool,
                   text: str) -> list[int]:
        """The accepted boxes as one undo step (with their new classes and the "predicted" mark),
        then their decisions; returns their annotation ids."""
        ids: list[int] = []
        macro = bool(new_names) or mark_predicted
        with self.state.edits.undo_step(text) if macro else nullcontext():
            if all(self.state.edits.add_category(name) is not None for name in new_names):
                categories = self.state.categories()
                boxes = [(find_category(categories, c.name)["id"], bbox) for _, c, bbox in kept]
                ids = self.state.edits.add_boxes(row, boxes, text)
                if ids and mark_predicted:
                    self.state.edits.set_status(row, "predicted")
        path = self.state.entry(row).path
        stored = self.store.get(path)
        if len(ids) == len(kept) and stored is not None:
            image_id = self.state.entry(row).image_id
            info = self.info()
            for (d, _, bbox), (category_id, _), ann_id in zip(kept, boxes, ids):
                self.decisions.decide(path, stored.fingerprint, stored.resolution, d.query, ann_id)
                self.prelabels.add(stored.fingerprint, info.source if info else "", image_id, category_id, bbox, ann_id)
        return ids

    def reject_selected(self) -> None:
        """Hide the selected prediction (X); on a rejected one (picked in the query list) it
        comes back."""
        if self._refused_while_saving():
            return
        row, entry, query = self.state.current_row, self.state.current_entry(), self.shown.selected_query
        stored = self.store.get(entry.path) if entry is not None else None
        if stored is None or query < 0:
            self.state.message.emit("Select a prediction first: click it, or press ] for the best one.")
            return
        key = (entry.path, stored.fingerprint, stored.resolution)
        if self.decisions.of(*key).get(query) == REJECTED:
            self.decisions.undecide(*key, query)
            self.decided.emit(row)
            return
        self.decisions.decide(*key, query, REJECTED)
        self.decided.emit(row)
        self.shown.select_next()

    def _refused_while_saving(self) -> bool:
        """A big document is being written on a worker (state.busy): say so and decide nothing.
        An autosave's compaction took the decisions for its header before its worker queued it,
        so a decision journalled meanwhile would be dropped by it; a Save refuses them too, as it
        refuses edits (one rule while "Saving…" shows)."""
        if self.state.busy:
            self.state.message.emit(BUSY_MESSAGE)
        return self.state.busy
