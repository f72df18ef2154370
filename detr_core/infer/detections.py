"""What the detector returns: every query of one image, filtered only on request."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # attention maps need torch; the torch-free ONNX runner uses Detections too
    from .attention_maps import AttentionMaps


@dataclass(frozen=True)
class Detection:
    query: int  # object query index
    label: int  # class id (model's)
    name: str
    score: float
    box_xyxy: tuple[float, float, float, float]  # original-image pixels


@dataclass
class Detections:
    """All Q queries of one image. Arrays are on the CPU; nothing is thresholded."""

    image_size: tuple[int, int]  # (width, height), after EXIF orientation
    input_size: tuple[int, int]  # (height, width) fed to the model
    class_names: list[str]
    labels: np.ndarray  # [Q] int64, argmax over real classes (not "no object")
    scores: np.ndarray  # [Q] float32, that class's softmax probability
    boxes_xyxy: np.ndarray  # [Q, 4] float32, original-image pixels
    logits: np.ndarray  # [Q, K+1] float32, raw class logits (last: no object)
    boxes_cxcywh: np.ndarray  # [Q, 4] float32, raw box head output, normalised to the image
    attention: AttentionMaps | None = None
    source: str | None = None  # file the image came from, if any
    query: np.ndarray = field(default=None)  # [Q] int64 query indices
    # With Detector.detect(layers=True): every decoder layer's outputs, the last layer last.
    layer_logits: np.ndarray | None = None  # [L, Q, K+1] float32
    layer_boxes_cxcywh: np.ndarray | None = None  # [L, Q, 4] float32, normalised to the image

    def __post_init__(self) -> None:
        if self.query is None:
            self.query = np.arange(len(self.scores), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def names(self) -> list[str]:
        return [self.class_names[i] if 0 <= i < len(self.class_names) else f"class_{i}" for i in self.labels]

    def select(self, threshold: float = 0.0, topk: int | None = None) -> np.ndarray:
        """Query indices with score >= threshold, best first, at most topk of them."""
        order = np.argsort(-self.scores, kind="stable")
        order = order[self.scores[order] >= threshold]
        return order[:topk] if topk is not None else order

    def filter(self, threshold: float = 0.7, topk: int | None = None) -> list[Detection]:
        """Detections with score >= threshold, best first (re-filtering never re-runs the model)."""
        names = self.names
        return [Detection(int(self.query[i]), int(self.labels[i]), names[i], float(self.scores[i]),
                          tuple(float(v) for v in self.boxes_xyxy[i]))
                for i in self.select(threshold, topk)]

    def to_coco(self, image_id: int, file_name: str | None = None, threshold: float = 0.0,
                topk: int | None = None, category_ids: dict[int, int] | None = None) -> list[dict]:
        """COCO detection results: image_id, file_name, category_id, bbox (xywh pixels), score,
        query. `category_ids` maps model class ids to dataset category ids (default: same)."""
        results = []
        for d in self.filter(threshold, topk):
            x0, y0, x1, y1 = d.box_xyxy
            entry = {
                "image_id": image_id,
                "category_id": category_ids.get(d.label, d.label) if category_ids else d.label,
                "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                "score": round(d.score, 5),
                "query": d.query,
            }
            if file_name is not None:
                entry["file_name"] = file_name
            results.append(entry)
        return results
