"""What the review reads from one image's detections: every query's full class distribution and
box, per decoder layer when asked, and the per-query quantities DETR gives for free.

Notation: Q queries, K model classes (+1 "no object", last), L decoder layers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..infer.detections import Detections


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


@dataclass
class ImagePredictions:
    image_size: tuple[int, int]  # (width, height)
    probs: np.ndarray  # [Q, K+1] softmax of the last layer
    boxes_xyxy: np.ndarray  # [Q, 4] pixels
    boxes_cxcywh: np.ndarray  # [Q, 4] normalised to the image
    layer_probs: np.ndarray | None = None  # [L, Q, K+1], last layer last
    layer_boxes_cxcywh: np.ndarray | None = None  # [L, Q, 4]

    @classmethod
    def from_detections(cls, det: Detections) -> "ImagePredictions":
        layer_probs = None if det.layer_logits is None else _softmax(det.layer_logits.astype(np.float64))
        return cls(tuple(det.image_size), _softmax(det.logits.astype(np.float64)),
                   det.boxes_xyxy.astype(np.float64), det.boxes_cxcywh.astype(np.float64),
                   layer_probs, det.layer_boxes_cxcywh)

    @property
    def num_classes(self) -> int:
        return self.probs.shape[1] - 1

    @property
    def labels(self) -> np.ndarray:
        """[Q] argmax over the real classes."""
        return self.probs[:, :-1].argmax(-1)

    @property
    def scores(self) -> np.ndarray:
        """[Q] that class's probability."""
        return self.probs[:, :-1].max(-1)

    @property
    def objectness(self) -> np.ndarray:
        """[Q] 1 - p(no object)."""
        return 1.0 - self.probs[:, -1]

    def entropy(self) -> np.ndarray:
        """[Q] entropy of each query's full class distribution (K+1 outcomes), divided by
        log(K+1): 0 = certain, 1 = uniform."""
        p = np.clip(self.probs, 1e-12, 1.0)
        return -(p * np.log(p)).sum(-1) / np.log(p.shape[-1])

    def margin(self) -> np.ndarray:
        """[Q] top-1 minus top-2 probability of the full distribution (no object included)."""
        top = np.sort(self.probs, axis=-1)
        return top[:, -1] - top[:, -2]

    def layer_class_spread(self) -> np.ndarray:
        """[Q] mean total-variation distance between each earlier layer's class distribution and
        the last layer's (0 = the layers agree; 0 without layer outputs)."""
        if self.layer_probs is None or len(self.layer_probs) < 2:
            return np.zeros(len(self.probs))
        last = self.layer_probs[-1]  # [Q, K+1]
        return 0.5 * np.abs(self.layer_probs[:-1] - last).sum(-1).mean(0)  # [L-1, Q] -> [Q]

    def layer_box_spread(self) -> np.ndarray:
        """[Q] mean L1 distance (normalised cxcywh, averaged over the 4 numbers) between each
        earlier layer's box and the last layer's."""
        if self.layer_boxes_cxcywh is None or len(self.layer_boxes_cxcywh) < 2:
            return np.zeros(len(self.probs))
        boxes = np.asarray(self.layer_boxes_cxcywh, dtype=np.float64)
        return np.abs(boxes[:-1] - boxes[-1]).mean(-1).mean(0)

    def to_cleanlab(self, min_score: float, merge_iou: float = 0.0,
                    classes: frozenset[int] | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        """cleanlab's prediction format: a list over the K classes of [M_k, 5] arrays
        (x1, y1, x2, y2 pixels, p), every query's argmax class with p >= min_score; and [M] the
        query of each row, in the order cleanlab concatenates them (class by class).

        merge_iou > 0: same-class queries whose boxes overlap the class's more certain query at
        IoU >= merge_iou are one object, given the best query's box and the probability that at
        least one of them is right, 1 - prod(1 - p) (a DETR still learning splits an object's
        probability over duplicate queries: 0.74 and 0.76 on one cross)."""
        from .boxes import iou_matrix

        labels, scores = self.labels, self.scores
        per_class, queries = [], []
        for k in range(self.num_classes):
            q = np.nonzero((labels == k) & (scores >= min_score))[0]
            if classes is not None and k not in classes:
                q = q[:0]
            q = q[np.argsort(-scores[q], kind="stable")]
            p = scores[q].copy()
            if merge_iou > 0 and len(q) > 1:
                ious = iou_matrix(self.boxes_xyxy[q], self.boxes_xyxy[q])
                keep, taken = [], np.zeros(len(q), bool)
                for i in range(len(q)):
                    if taken[i]:
                        continue
                    group = np.nonzero(~taken & (ious[i] >= merge_iou))[0]
                    taken[group] = True
                    p[i] = 1.0 - np.prod(1.0 - scores[q[group]])
                    keep.append(i)
                q, p = q[keep], p[keep]
            per_class.append(np.concatenate([self.boxes_xyxy[q], p[:, None]], 1).reshape(-1, 5))
            queries.append(q)
        return per_class, np.concatenate(queries).astype(np.int64)
