"""Predictions kept per image, and a bounded cache of full results with attention (no Qt).

Two kinds of entries, both keyed by the image's path:
  - `predictions[path]`: what the model said about an image, compacted to the queries scoring at
    least KEEP_FLOOR (the query indices are kept), without attention. A 10,000-image folder costs
    a few MB, whatever the model's number of queries and classes.
  - the full cache: every query with attention maps, for the few images seen last, keyed by
    (path, model key, resolution) so a result of another model or input size is never reused.
    Bounded by entries and bytes (encoder maps grow with the square of the feature map).
What the user did with a prediction (accepted, rejected) is kept apart, per model fingerprint
and resolution, in a DecisionBook (decisions.py), so a re-run or a restart finds it again.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detr_core.infer.detections import Detections
from detr_core.lru import LruCache

from .payloads import Resolution

KEEP_FLOOR = 0.01  # scores below this are never shown (the slider starts at this value)
FULL_MAX_ITEMS = 8
FULL_MAX_BYTES = 400 * 1024 * 1024


@dataclass(frozen=True)
class ImagePredictions:
    model_key: str  # the load that produced it (ModelInfo.key)
    resolution: Resolution
    detections: Detections  # compact: queries scoring >= KEEP_FLOOR, no attention
    fingerprint: str = ""  # that model's weights (ModelInfo.fingerprint): decisions are kept by it


def compact(detections: Detections, floor: float = KEEP_FLOOR) -> Detections:
    """The queries scoring at least `floor`, their original indices kept in `query`."""
    keep = np.flatnonzero(detections.scores >= floor)
    return Detections(image_size=detections.image_size, input_size=detections.input_size,
                      class_names=detections.class_names, labels=detections.labels[keep].copy(),
                      scores=detections.scores[keep].copy(), boxes_xyxy=detections.boxes_xyxy[keep].copy(),
                      logits=detections.logits[keep].copy(), boxes_cxcywh=detections.boxes_cxcywh[keep].copy(),
                      attention=None, source=detections.source, query=detections.query[keep].copy())


def detections_bytes(detections: Detections) -> int:
    arrays = [detections.scores, detections.labels, detections.boxes_xyxy, detections.logits,
              detections.boxes_cxcywh]
    maps = detections.attention
    if maps is not None:
        arrays += [a for a in (maps.decoder, maps.encoder, maps.decoder_layers, maps.encoder_layers)
                   if a is not None]
    return sum(a.nbytes for a in arrays)


class PredictionStore:
    def __init__(self, full_max_items: int = FULL_MAX_ITEMS, full_max_bytes: int = FULL_MAX_BYTES):
        self.predictions: dict[str, ImagePredictions] = {}
        self.failed: dict[str, tuple[str, Resolution]] = {}  # path -> (model key, resolution) that failed
        self._full: LruCache[tuple, Detections] = LruCache(full_max_items, full_max_bytes, detections_bytes)

    def put(self, path: str, model_key: str, resolution: Resolution, detections: Detections,
            keep_full: bool = False, fingerprint: str = "") -> None:
        """Record a result of the model loaded as `model_key` (weights `fingerprint`); it
        replaces the image's previous one."""
        self.predictions[path] = ImagePredictions(model_key, tuple(resolution), compact(detections), fingerprint)
        if keep_full:
            self._full.put((path, model_key, tuple(resolution)), detections)

    def get(self, path: str) -> ImagePredictions | None:
        return self.predictions.get(path)

    def full(self, path: str, model_key: str, resolution: Resolution) -> Detections | None:
        return self._full.get((path, model_key, tuple(resolution)))

    def full_bytes(self) -> int:
        return self._full.total_bytes

