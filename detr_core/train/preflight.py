"""Preflight: what is wrong with a training set that only a DETR tool knows, before a long run.

    findings = check_data(train, val, num_queries=100, resolution=res)
    findings += overfit_check(...)                      # train/preflight_overfit.py
    failed = any(f.severity == "error" for f in findings)

One finding per problem, one line each, with a severity: "error" (the run cannot go well: Start
is blocked unless the user goes on anyway), "warning" (worth a look), "ok" (a check that passed).
Thresholds are those of hotcoco's healthcheck and cleanvision where they exist (loop-facts.md):
same-class boxes with IoU > 0.95 are double clicks, different-class boxes with IoU >= 0.95 are
conflicts, classes under 10 boxes are thin, an imbalance over 50x is flagged, images whose
perceptual hashes are within 4 bits are near duplicates.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .finding import Finding
from ..data.dataset import CocoDetection, ImageRecord
from ..data.transforms import ResolutionPreset
from ..errors import ImageError
from ..images import load_image
from ..infer.preprocess import resize_size

STRIDE = 32  # the backbone's output stride: one cell of the feature map
FEW_BOXES = 10
IMBALANCE = 50.0
DOUBLE_IOU = 0.95
CONFLICT_IOU = 0.95
HASH_BITS = 4
CLIPPED_SHARE = 0.2  # boxes reaching past the image: over this share, [x1, y1, x2, y2] given as COCO
_SHOWN = 3


def _names(records: list[ImageRecord], limit: int = _SHOWN) -> str:
    from os.path import basename

    shown = ", ".join(basename(r.path) for r in records[:limit])
    return shown + (f" (and {len(records) - limit} more)" if len(records) > limit else "")


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a [N, 4], b [M, 4] xyxy -> [N, M]."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def check_boxes(train: CocoDetection, num_queries: int, resolution: ResolutionPreset) -> list[Finding]:
    out: list[Finding] = []
    records = train.records
    names = list(train.class_map.names)
    boxes = sum(len(r.labels) for r in records)
    if boxes == 0:
        return [Finding("error", "no_boxes", f"{len(records)} training images and no boxes: nothing to "
                                             "learn; label some objects first")]
    crowded = [r for r in records if len(r.labels) > num_queries]
    if crowded:
        out.append(Finding("error", "too_many_boxes",
                           f"{len(crowded)} images hold more boxes than the model has queries ({num_queries}), "
                           f"most {max(len(r.labels) for r in crowded)}: {_names(crowded)}; DETR cannot "
                           "predict them all (a model with more queries, or split the images)"))
    tiny, tiny_boxes = [], 0
    for r in records:
        h, w = resize_size(r.width, r.height, resolution.eval_size, resolution.max_size)
        sx, sy = w / r.width, h / r.height
        bw = (r.boxes_xyxy[:, 2] - r.boxes_xyxy[:, 0]) * sx
        bh = (r.boxes_xyxy[:, 3] - r.boxes_xyxy[:, 1]) * sy
        small = int(((bw < STRIDE) & (bh < STRIDE)).sum())
        if small:
            tiny.append(r)
            tiny_boxes += small
    if tiny_boxes:
        out.append(Finding("warning", "small_boxes",
                           f"{tiny_boxes} of {boxes} boxes are smaller than one {STRIDE}-px feature cell at "
                           f"the run's resolution ({resolution.eval_size} px shortest side): {_names(tiny)}; "
                           "train at a higher --resolution to find them"))
    counts = {n: 0 for n in names}
    for r in records:
        for label in r.labels:
            counts[names[int(label)]] += 1
    thin = sorted((c, n) for n, c in counts.items() if c < FEW_BOXES)
    if thin:
        out.append(Finding("warning", "few_boxes",
                           f"{len(thin)} classes have fewer than {FEW_BOXES} boxes: "
                           + ", ".join(f"{n} ({c})" for c, n in thin[:5]) + "; label more of them"))
    present = [c for c in counts.values() if c]
    if len(present) > 1 and max(present) / min(present) > IMBALANCE:
        top = max(counts, key=counts.get)
        low = min((n for n in counts if counts[n]), key=counts.get)
        out.append(Finding("warning", "imbalance",
                           f"class imbalance {max(present) / min(present):.0f}x: {top} ({counts[top]} boxes) "
                           f"against {low} ({counts[low]})"))
    doubles, conflicts = [], []
    for r in records:
        if len(r.labels) < 2:
            continue
        iou = np.triu(_iou(r.boxes_xyxy, r.boxes_xyxy), 1)
        same = r.labels[:, None] == r.labels[None, :]
        if ((iou > DOUBLE_IOU) & same).any():
            doubles.append(r)
        if ((iou >= CONFLICT_IOU) & ~same).any():
            conflicts.append(r)
    if doubles:
        out.append(Finding("warning", "double_boxes",
                           f"{len(doubles)} images have two boxes of one class on one object (IoU > "
                           f"{DOUBLE_IOU}): {_names(doubles)}; delete one of each pair"))
    if conflicts:
        out.append(Finding("error", "conflicting_boxes",
                           f"{len(conflicts)} images have one object labelled as two classes (IoU >= "
                           f"{CONFLICT_IOU}): {_names(conflicts)}; keep the right class"))
    return out


def check_clipping(clipped: int, boxes: int, path: str) -> list[Finding]:
    """Boxes reaching past the image (counted by the data set loader) in large numbers mean the
    file holds [x1, y1, x2, y2] where COCO wants [x, y, width, height]."""
    if boxes and clipped / boxes > CLIPPED_SHARE:
        return [Finding("error", "box_format",
                        f"{path}: {clipped} of {boxes} boxes reach past their image: the boxes look like "
                        "[x1, y1, x2, y2]; COCO bbox is [x, y, width, height] in pixels")]
    return []


def _hashes(records: list[ImageRecord]) -> tuple[list[str], list[int]]:
    import imagehash

    exact, perceptual = [], []
    for r in records:
        try:
            image = load_image(r.path)
        except ImageError:
            raise
        exact.append(hashlib.md5(np.asarray(image).tobytes()).hexdigest())
        perceptual.append(int(str(imagehash.phash(image)), 16))
    return exact, perceptual


def _near(a: int, b: int) -> bool:
    return bin(a ^ b).count("1") <= HASH_BITS


def check_duplicates(train: CocoDetection, val: CocoDetection | None) -> list[Finding]:
    """Exact (same pixels) and near (perceptual hash within HASH_BITS) duplicates in the training
    set, and training images that are also in the validation set."""
    out: list[Finding] = []
    exact, phash = _hashes(train.records)
    same, near = [], []
    for i in range(len(exact)):
        for j in range(i):
            if exact[i] == exact[j]:
                same.append(train.records[i])
                break
            if _near(phash[i], phash[j]):
                near.append(train.records[i])
                break
    if same:
        out.append(Finding("warning", "duplicate_images",
                           f"{len(same)} training images are exact copies of others: {_names(same)}"))
    if near:
        out.append(Finding("warning", "near_duplicates",
                           f"{len(near)} training images are near copies of others: {_names(near)}"))
    if val is not None:
        vexact, vphash = _hashes(val.records)
        leaked = [r for r, e, p in zip(val.records, vexact, vphash)
                  if e in exact or any(_near(p, q) for q in phash)]
        if leaked:
            out.append(Finding("error", "train_val_overlap",
                               f"{len(leaked)} validation images are also training images: {_names(leaked)}; "
                               "validation then measures memory, not the model"))
    return out


def check_data(train: CocoDetection, val: CocoDetection | None, *, num_queries: int, resolution: ResolutionPreset,
               clipped: int = 0, path: str = "") -> list[Finding]:
    findings = check_boxes(train, num_queries, resolution)
    findings += check_clipping(clipped, sum(len(r.labels) for r in train.records), path)
    findings += check_duplicates(train, val)
    if not findings:
        findings.append(Finding("ok", "data", f"{len(train.records)} training images: no data problems found"))
    return findings
