"""Box geometry in NumPy for the review (pixel xyxy)."""
from __future__ import annotations

import numpy as np


def iou_matrix(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """[N, 4], [M, 4] pixel xyxy -> [N, M] IoU (0 where a box has no area)."""
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])  # [N, M, 2]
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)  # [N, M]
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def xyxy_to_cxcywh_normalised(boxes_xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """[N, 4] pixel xyxy -> [N, 4] cxcywh in [0, 1] of the image."""
    b = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    scale = np.array([width, height, width, height], dtype=np.float64)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    return np.stack([cx, cy, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1) / scale
