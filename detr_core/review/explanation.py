"""Why the model disagrees: the DETR query behind a finding, shown in full. Its whole class
distribution, its class and box at every decoder layer, and its last-layer cross-attention over
the image (where it looked)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model.box_ops import box_cxcywh_to_xyxy
from .finding import Finding


@dataclass(frozen=True)
class QueryExplanation:
    query: int
    distribution: tuple[tuple[str, float], ...]  # every class and "no object", most likely first
    layer_classes: tuple[str, ...]  # [L] the query's argmax class at each decoder layer, last last
    layer_boxes_xyxy: np.ndarray  # [L, 4] its box at each layer, image pixels
    attention: np.ndarray  # [H, W] last-layer cross-attention (mean over heads) over the image, sums to 1


def explain(detector, image: str | Path, finding: Finding | int) -> QueryExplanation:
    """Run `detector` (infer.detector.Detector) once on `image` with attention and every decoder
    layer, and describe the finding's query (or a query index). Raises ImageError for an image
    that cannot be read; ValueError for a finding without a query."""
    import torch

    query = finding if isinstance(finding, int) else finding.query
    if query is None:
        raise ValueError(f"finding {finding.kind!r} has no query behind it")
    det = detector.detect(image, attention=True, layers=True)
    names = list(det.class_names) + ["no object"]
    probs = torch.from_numpy(det.logits[query]).softmax(-1).numpy()  # [K+1]
    order = np.argsort(-probs)
    layer_probs = torch.from_numpy(det.layer_logits[:, query]).softmax(-1).numpy()  # [L, K+1]
    width, height = det.image_size
    scale = np.array([width, height, width, height], dtype=np.float32)
    boxes = box_cxcywh_to_xyxy(torch.from_numpy(det.layer_boxes_cxcywh[:, query])).numpy() * scale  # [L, 4]
    heat = det.attention.upsample(det.attention.decoder[query], smooth=False)  # [H, W]
    return QueryExplanation(int(query), tuple((names[i], float(probs[i])) for i in order),
                            tuple(names[i] for i in layer_probs[:, :-1].argmax(-1)), boxes,
                            heat / max(float(heat.sum()), 1e-12))
