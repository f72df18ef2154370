"""COCO box AP over any multiset of images, from pycocotools' own per-image matching.

pycocotools' `COCOeval.evaluate()` matches detections to ground truth one (image, category) at a
time; `accumulate()` then pools those matches over the images. The paired bootstrap needs that
pooling for thousands of resampled image lists, so this module keeps pycocotools' per-image
matches (area "all", 100 detections) and re-implements only the pooling, vectorised:

    matches = ImageMatches.from_results(gt, results)     # pycocotools evaluate(), once
    matches.summary()                                     # == pycocotools' AP, AP50, AP75, AR100
    matches.summary(image_rows=[0, 0, 3, 7, ...])         # the same over a resampled image list

Parity with pycocotools' own `accumulate()` + `summarize()` is tested (tests/core/test_compare_ap.py).
"""
from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass

import numpy as np

MAX_DETS = 100
_REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
_IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)


def coco_eval(gt: dict, results: list[dict], image_ids: list[int]):
    """A pycocotools COCOeval over `image_ids` after `evaluate()` (bbox). `results` may be empty."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if results:
            coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        else:  # loadRes cannot take an empty list: an empty result set is a dataset without boxes
            coco_dt = COCO()
            coco_dt.dataset = {"images": list(gt["images"]), "categories": list(gt["categories"]),
                               "annotations": []}
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.params.imgIds = sorted(image_ids)
        evaluator.evaluate()
    return evaluator


@dataclass
class _Cell:
    """pycocotools' match of one (category, image), area "all", first MAX_DETS detections."""
    scores: np.ndarray  # [D] detection scores, best first
    matched: np.ndarray  # [T, D] bool: matched to a ground-truth box at IoU threshold t
    ignored: np.ndarray  # [T, D] bool: matched to an ignored (crowd) box
    n_gt: int  # ground-truth boxes that count (not ignored)


class ImageMatches:
    """Per (category, image) matches of one result set; summaries over any list of image rows."""

    def __init__(self, category_ids: list[int], image_ids: list[int], cells: dict[tuple[int, int], _Cell]):
        self.category_ids = category_ids  # K categories, pycocotools' order
        self.image_ids = image_ids  # I images, sorted
        self._cells = cells  # (k, i) -> _Cell; absent: neither ground truth nor detections

    @classmethod
    def from_results(cls, gt: dict, results: list[dict], image_ids: list[int] | None = None) -> "ImageMatches":
        ids = sorted(image_ids if image_ids is not None else [im["id"] for im in gt["images"]])
        ev = coco_eval(gt, results, ids)
        p = ev.params
        A, I = len(p.areaRng), len(p.imgIds)
        a_all = [tuple(r) for r in p.areaRng].index(tuple(p.areaRng[0]))  # "all" comes first
        cells = {}
        for k in range(len(p.catIds)):
            for i in range(I):
                e = ev.evalImgs[k * A * I + a_all * I + i]
                if e is None:
                    continue
                order = slice(0, MAX_DETS)
                cells[(k, i)] = _Cell(np.asarray(e["dtScores"][order], dtype=float),
                                      np.asarray(e["dtMatches"][:, order] > 0),
                                      np.asarray(e["dtIgnore"][:, order], dtype=bool),
                                      int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0)))
        return cls(list(p.catIds), list(p.imgIds), cells)

    def _category(self, k: int, rows) -> tuple[np.ndarray, np.ndarray] | None:
        """(precision [T, R], recall [T]) of category k over image rows, or None (no ground truth)."""
        cells = [self._cells[(k, i)] for i in rows if (k, i) in self._cells]
        n_gt = sum(c.n_gt for c in cells)
        if not cells or n_gt == 0:
            return None
        scores = np.concatenate([c.scores for c in cells])
        order = np.argsort(-scores, kind="mergesort")  # as pycocotools: ties keep image order
        matched = np.concatenate([c.matched for c in cells], axis=1)[:, order]
        ignored = np.concatenate([c.ignored for c in cells], axis=1)[:, order]
        tp = np.cumsum(matched & ~ignored, axis=1, dtype=float)  # [T, D]
        fp = np.cumsum(~matched & ~ignored, axis=1, dtype=float)
        T, D = tp.shape
        recall = tp[:, -1] / n_gt if D else np.zeros(T)
        precision = np.zeros((T, len(_REC_THRS)))
        if D:
            rc = tp / n_gt
            pr = tp / (fp + tp + np.spacing(1))
            pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # precision made monotone
            for t in range(T):
                inds = np.searchsorted(rc[t], _REC_THRS, side="left")
                ok = inds < D
                precision[t, ok] = pr[t, inds[ok]]
        return precision, recall

    def summary(self, image_rows=None) -> dict:
        """AP (IoU .50:.95), AP50, AP75, AR100 and per-category AP over `image_rows` (indices into
        `image_ids`, repeats allowed; default every image once). None where no ground truth."""
        rows = range(len(self.image_ids)) if image_rows is None else image_rows
        rows = list(rows)
        per_class, precisions, recalls = {}, [], []
        for k, cat_id in enumerate(self.category_ids):
            got = self._category(k, rows)
            if got is None:
                per_class[cat_id] = None
                continue
            precision, recall = got
            precisions.append(precision)
            recalls.append(recall)
            per_class[cat_id] = float(precision.mean())
        if not precisions:
            return {"AP": None, "AP50": None, "AP75": None, "AR100": None, "per_class": per_class}
        P = np.stack(precisions)  # [K', T, R]
        t50, t75 = int(np.argmin(abs(_IOU_THRS - 0.5))), int(np.argmin(abs(_IOU_THRS - 0.75)))
        return {"AP": float(P.mean()), "AP50": float(P[:, t50].mean()), "AP75": float(P[:, t75].mean()),
                "AR100": float(np.stack(recalls).mean()), "per_class": per_class}
