"""Measuring the loop: what the user did with one model version's pre-labels.

A pure function over (the pre-labels the model proposed, the annotations as they ended up), per
image, then summed: each pre-label is
    accepted     kept as it was (same category, IoU >= unchanged_iou with its final box)
    moved        kept with its box changed (same category, match_iou <= IoU < unchanged_iou)
    reclassified kept at (about) its place with another category (IoU >= match_iou)
    deleted      no final box matches it
and every final box that no pre-label matches was added by hand. A pre-label that carries the id
of the annotation it became ("annotation_id") is matched by that id; the others one-to-one by IoU
(greedy, best first). Only images that were pre-labelled count.

Written to the run folder as RUN_DIR/review_loop.json: {"versions": {model version: stats}}.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json
from ..errors import DatasetError
from .boxes import iou_matrix

LOOP_FILE = "review_loop.json"


@dataclass(frozen=True)
class LoopStats:
    images: int = 0  # pre-labelled images
    prelabels: int = 0
    accepted: int = 0
    moved: int = 0
    reclassified: int = 0
    deleted: int = 0
    added: int = 0  # final boxes no pre-label became

    def __add__(self, other: "LoopStats") -> "LoopStats":
        return LoopStats(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    @property
    def accepted_rate(self) -> float:
        return self.accepted / self.prelabels if self.prelabels else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "accepted_rate": round(self.accepted_rate, 4)}


def _xyxy(bbox) -> list[float]:
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


def _image_stats(pre: list[dict], final: list[dict], unchanged_iou: float, match_iou: float) -> LoopStats:
    counts = dict(accepted=0, moved=0, reclassified=0)
    final_by_id = {a.get("id"): j for j, a in enumerate(final)}
    used_final: set[int] = set()
    pairs: list[tuple[int, int]] = []
    rest = []
    for i, p in enumerate(pre):
        j = final_by_id.get(p.get("annotation_id")) if p.get("annotation_id") is not None else None
        if j is not None and j not in used_final:
            pairs.append((i, j))
            used_final.add(j)
        else:
            rest.append(i)
    free = [j for j in range(len(final)) if j not in used_final]
    if rest and free:
        ious = iou_matrix(np.array([_xyxy(pre[i]["bbox"]) for i in rest]),
                          np.array([_xyxy(final[j]["bbox"]) for j in free]))
        while ious.max(initial=0.0) >= match_iou:
            a, b = np.unravel_index(np.argmax(ious), ious.shape)
            pairs.append((rest[a], free[b]))
            ious[a, :] = -1.0
            ious[:, b] = -1.0
    for i, j in pairs:
        iou = float(iou_matrix(np.array([_xyxy(pre[i]["bbox"])]), np.array([_xyxy(final[j]["bbox"])]))[0, 0])
        if int(pre[i]["category_id"]) != int(final[j]["category_id"]):
            counts["reclassified"] += 1
        elif iou >= unchanged_iou:
            counts["accepted"] += 1
        else:
            counts["moved"] += 1
    return LoopStats(1, len(pre), deleted=len(pre) - len(pairs), added=len(final) - len(pairs), **counts)


def measure_loop(prelabels: list[dict], final_coco: dict, *, images: set[int] | None = None,
                 unchanged_iou: float = 0.99, match_iou: float = 0.3) -> LoopStats:
    """prelabels: COCO results (image_id, category_id, bbox xywh pixels, optional annotation_id);
    final_coco: the annotations after review; images: the pre-labelled image ids (default: those
    in `prelabels`)."""
    images = set(images) if images is not None else {int(p["image_id"]) for p in prelabels}
    pre_of: dict[int, list[dict]] = {i: [] for i in images}
    final_of: dict[int, list[dict]] = {i: [] for i in images}
    for p in prelabels:
        if int(p["image_id"]) in pre_of:
            pre_of[int(p["image_id"])].append(p)
    for a in final_coco.get("annotations", []):
        if int(a["image_id"]) in final_of:
            final_of[int(a["image_id"])].append(a)
    total = LoopStats()
    for i in sorted(images):
        total = total + _image_stats(pre_of[i], final_of[i], unchanged_iou, match_iou)
    return total


def write_loop_stats(run_dir: str | Path, version: str, stats: LoopStats) -> Path:
    """Record `stats` for model `version` in RUN_DIR/review_loop.json (other versions kept)."""
    path = Path(run_dir) / LOOP_FILE
    data = read_loop_stats(run_dir)
    data[version] = stats
    try:
        atomic_write_json(path, {"versions": {v: s.to_dict() for v, s in data.items()}}, indent=1)
    except OSError as e:
        raise DatasetError(f"{path}: cannot write loop statistics ({e.strerror or e})") from None
    return path


def read_loop_stats(run_dir: str | Path) -> dict[str, LoopStats]:
    path = Path(run_dir) / LOOP_FILE
    if not path.is_file():
        return {}
    try:
        versions = json.loads(path.read_text(encoding="utf-8"))["versions"]
        fields = set(LoopStats.__dataclass_fields__)
        return {v: LoopStats(**{k: int(x) for k, x in s.items() if k in fields}) for v, s in versions.items()}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"{path}: not a loop statistics file ({type(e).__name__}: {e})") from None
