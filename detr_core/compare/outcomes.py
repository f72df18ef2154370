"""Object-level outcomes of two models on one image, against its labels.

Each model's predictions at or above the score threshold are matched to the labels as COCO does
(best score first, each to the unmatched same-class label of highest IoU >= `iou`): a matched
prediction is a true positive, an unmatched one a false positive, an unmatched label missed.
A's and B's predictions are matched to each other by the Hungarian algorithm on IoU (scipy),
class-agnostic, pairs at IoU >= `pair_iou`. Then every object gets one outcome:

    labels       fixed (missed by A, found by B), broke (found by A, missed by B),
                 kept (found by both; `moved` too when its IoU changed by >= `move_delta`),
                 missed (by both)
    false pos.   new_fp (B's, with no false positive of A at its place),
                 removed_fp (A's, with no false positive of B at its place), kept_fp (both)
    pairs        class_changed: A's and B's predictions at one place with different classes

So fixed + kept = B's true positives, broke + kept = A's, kept_fp + new_fp = B's false positives
and kept_fp + removed_fp = A's. Each model's false positives and missed labels are also typed as
TIDE does (Bolya et al. 2020; foreground IoU `iou`, background 0.1): localisation (right class,
0.1 <= IoU < fg), classification (wrong class, IoU >= fg), duplicate (right class, IoU >= fg,
label already taken), both (wrong class, 0.1 <= IoU < fg), background (IoU < 0.1 with every
label) and missed (a label no prediction touches at IoU >= 0.1).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

ERROR_TYPES = ("localisation", "classification", "duplicate", "both", "background", "missed")
LABEL_OUTCOMES = ("fixed", "broke", "kept", "missed")
FP_OUTCOMES = ("new_fp", "removed_fp", "kept_fp")
BACKGROUND_IOU = 0.1


@dataclass(frozen=True)
class Boxes:
    """Boxes of one image: [N, 4] xyxy pixels, class ids [N], scores [N] (1 for labels)."""
    xyxy: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    ids: tuple = ()  # annotation ids (labels) or query indices (predictions), one per box

    @classmethod
    def from_coco(cls, entries: list[dict], id_key: str = "id") -> "Boxes":
        """From COCO annotations or results (bbox xywh pixels)."""
        xywh = np.asarray([e["bbox"] for e in entries], dtype=float).reshape(-1, 4)
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        return cls(xyxy, np.asarray([e["category_id"] for e in entries], dtype=int),
                   np.asarray([e.get("score", 1.0) for e in entries], dtype=float),
                   tuple(e.get(id_key) for e in entries))

    def __len__(self) -> int:
        return len(self.classes)

    def above(self, threshold: float) -> "Boxes":
        """The boxes with score >= threshold, best first."""
        order = np.argsort(-self.scores, kind="stable")
        order = order[self.scores[order] >= threshold]
        return Boxes(self.xyxy[order], self.classes[order], self.scores[order],
                     tuple(self.ids[i] for i in order) if self.ids else ())


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU [N, M] of xyxy boxes a [N, 4] and b [M, 4] (as pycocotools: no +1)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@dataclass
class Matching:
    """One model's predictions (above threshold, best first) against the labels of one image."""
    label_of: np.ndarray  # [P] matched label row per prediction, -1: false positive
    iou: np.ndarray  # [P] IoU with the matched label (0 for false positives)
    found: np.ndarray  # [L] prediction row that found each label, -1: missed
    errors: dict = field(default_factory=dict)  # TIDE type -> count


def match(preds: Boxes, labels: Boxes, iou: float) -> Matching:
    """COCO-style greedy matching, then TIDE error types of what did not match."""
    ious = box_iou(preds.xyxy, labels.xyxy)  # [P, L]
    label_of = np.full(len(preds), -1)
    matched_iou = np.zeros(len(preds))
    found = np.full(len(labels), -1)
    for p in range(len(preds)):  # best score first
        same = (labels.classes == preds.classes[p]) & (found < 0) & (ious[p] >= iou)
        if same.any():
            best = int(np.argmax(np.where(same, ious[p], -1)))
            label_of[p], matched_iou[p], found[best] = best, ious[p, best], p
    errors = dict.fromkeys(ERROR_TYPES, 0)
    for p in np.flatnonzero(label_of < 0):
        same = labels.classes == preds.classes[p]
        iou_same = ious[p, same].max(initial=0.0)
        iou_other = ious[p, ~same].max(initial=0.0)
        if BACKGROUND_IOU <= iou_same < iou:
            errors["localisation"] += 1
        elif iou_other >= iou:
            errors["classification"] += 1
        elif iou_same >= iou:
            errors["duplicate"] += 1
        elif BACKGROUND_IOU <= iou_other < iou:
            errors["both"] += 1
        else:
            errors["background"] += 1
    touched = (ious >= BACKGROUND_IOU).any(axis=0) if len(preds) else np.zeros(len(labels), bool)
    errors["missed"] = int(np.count_nonzero((found < 0) & ~touched))
    return Matching(label_of, matched_iou, found, errors)


def pair(a: Boxes, b: Boxes, pair_iou: float) -> list[tuple[int, int, float]]:
    """Hungarian pairs (row in a, row in b, IoU) of A's and B's predictions, IoU >= pair_iou."""
    ious = box_iou(a.xyxy, b.xyxy)
    if not ious.size:
        return []
    rows, cols = linear_sum_assignment(-ious)
    return [(int(r), int(c), float(ious[r, c])) for r, c in zip(rows, cols) if ious[r, c] >= pair_iou]


def _box(boxes: Boxes, row: int) -> dict:
    return {"bbox_xyxy": [round(float(v), 2) for v in boxes.xyxy[row]], "class": int(boxes.classes[row]),
            "score": round(float(boxes.scores[row]), 5),
            "query": boxes.ids[row] if boxes.ids else None}


def image_outcomes(image_id: int, labels: Boxes, preds_a: Boxes, preds_b: Boxes, *, iou: float = 0.5,
                   pair_iou: float = 0.5, move_delta: float = 0.1) -> tuple[list[dict], dict, dict]:
    """Per-object outcome records of one image, and each model's TIDE error counts.
    `preds_*` must already be thresholded (Boxes.above)."""
    ma, mb = match(preds_a, labels, iou), match(preds_b, labels, iou)
    records = []
    for row in range(len(labels)):
        pa, pb = int(ma.found[row]), int(mb.found[row])
        outcome = {(True, False): "broke", (False, True): "fixed", (True, True): "kept",
                   (False, False): "missed"}[(pa >= 0, pb >= 0)]
        rec = {"image_id": image_id, "outcome": outcome, "label_id": labels.ids[row] if labels.ids else None,
               "label": {"bbox_xyxy": [round(float(v), 2) for v in labels.xyxy[row]],
                         "class": int(labels.classes[row])},
               "a": _box(preds_a, pa) if pa >= 0 else None, "b": _box(preds_b, pb) if pb >= 0 else None,
               "iou_a": round(float(ma.iou[pa]), 4) if pa >= 0 else None,
               "iou_b": round(float(mb.iou[pb]), 4) if pb >= 0 else None}
        if outcome == "kept":
            rec["iou_change"] = round(rec["iou_b"] - rec["iou_a"], 4)
            rec["moved"] = abs(rec["iou_change"]) >= move_delta
        records.append(rec)
    pairs = pair(preds_a, preds_b, pair_iou)
    partner_of_a = {r: (c, v) for r, c, v in pairs}
    partner_of_b = {c: (r, v) for r, c, v in pairs}
    fp_a, fp_b = set(np.flatnonzero(ma.label_of < 0)), set(np.flatnonzero(mb.label_of < 0))
    for r in sorted(fp_a):
        c = partner_of_a.get(r, (None,))[0]
        kind = "kept_fp" if c is not None and c in fp_b else "removed_fp"
        records.append({"image_id": image_id, "outcome": kind, "a": _box(preds_a, r),
                        "b": _box(preds_b, c) if c is not None else None})
    for c in sorted(fp_b):
        r = partner_of_b.get(c, (None,))[0]
        if r is not None and r in fp_a:
            continue  # counted once, as kept_fp, above
        records.append({"image_id": image_id, "outcome": "new_fp",
                        "a": _box(preds_a, r) if r is not None else None, "b": _box(preds_b, c)})
    for r, c, v in pairs:
        if preds_a.classes[r] != preds_b.classes[c]:
            records.append({"image_id": image_id, "outcome": "class_changed", "a": _box(preds_a, r),
                            "b": _box(preds_b, c), "pair_iou": round(v, 4)})
    return records, ma.errors, mb.errors
