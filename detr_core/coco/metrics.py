"""COCO box metrics through pycocotools, under fixed names, plus per-class AP.

    metrics = coco_metrics(gt_dict, results)   # results: COCO detection results (xywh pixels)
    metrics["AP"], metrics["AP50"], ..., metrics["per_class"]["cat"]
    print(format_table(metrics))

Names follow pycocotools' summary order: AP (IoU .50:.95), AP50, AP75, APs, APm, APl, AR1, AR10,
AR100, ARs, ARm, ARl. Values are pycocotools' own numbers, except that its -1 ("no ground truth
for this") is None. per_class: {category name: AP at IoU .50:.95, all areas, 100 detections}.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
from pathlib import Path

import numpy as np

from ..errors import DatasetError

METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
_SHOWN = 3


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


def coco_from_dict(data: dict):
    """A pycocotools COCO object over an already loaded instances dict (not copied)."""
    from pycocotools.coco import COCO

    with _quiet():
        coco = COCO()
        coco.dataset = data
        coco.createIndex()
    return coco


def _value(x: float) -> float | None:
    return None if x < 0 or not math.isfinite(x) else float(x)


def coco_metrics(gt: dict, results: list[dict], image_ids: list[int] | None = None) -> dict:
    """COCO bbox metrics of `results` against the instances dict `gt` (over `image_ids`, default
    every image of `gt`). Neither argument is changed."""
    from pycocotools.cocoeval import COCOeval

    coco_gt = coco_from_dict(gt)
    names = {c["id"]: c["name"] for c in gt["categories"]}
    if not results:  # pycocotools cannot load an empty result list: nothing found is AP 0
        has_gt = bool(gt.get("annotations"))
        empty = {name: (0.0 if has_gt else None) for name in METRICS}
        per_class = {names[c]: (0.0 if coco_gt.getAnnIds(catIds=[c], iscrowd=False) else None)
                     for c in sorted(names)}
        return {**empty, "per_class": per_class}
    with _quiet():
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        if image_ids is not None:
            evaluator.params.imgIds = sorted(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    metrics: dict = {name: _value(v) for name, v in zip(METRICS, evaluator.stats)}
    precision = evaluator.eval["precision"]  # [T iou, R recall, K classes, A areas, M maxDets]
    per_class = {}
    for k, cat_id in enumerate(evaluator.params.catIds):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        per_class[names[cat_id]] = float(np.mean(p)) if p.size else None
    metrics["per_class"] = per_class
    return metrics


def format_table(metrics: dict) -> str:
    """The twelve numbers and per-class AP as a plain-text table (x100, one decimal)."""
    def pct(v):
        return "   -" if v is None else f"{100 * v:5.1f}"

    lines = ["  ".join(f"{n:>5}" for n in METRICS), "  ".join(pct(metrics.get(n)) for n in METRICS)]
    per_class = metrics.get("per_class") or {}
    if per_class:
        width = min(max(len(n) for n in per_class), 32)
        lines.append("")
        lines.append(f"{'class':<{width}}     AP")
        lines += [f"{name[:width]:<{width}}  {pct(ap)}" for name, ap in per_class.items()]
    return "\n".join(lines)


def read_results(path: str | os.PathLike, gt: dict) -> list[dict]:
    """A COCO detection results file checked against `gt`: a JSON list of {image_id, category_id,
    bbox [x, y, w, h], score}. Raises DatasetError (one line, the file and first problems)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read ({e})") from None
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(data, list):
        raise DatasetError(f"{path}: detection results must be a JSON list, got a {type(data).__name__}")
    images = {im["id"] for im in gt["images"]}
    categories = {c["id"] for c in gt["categories"]}
    problems = []
    for i, r in enumerate(data):
        problem = _result_problem(r, images, categories)
        if problem:
            problems.append(f"[{i}]: {problem}")
    if problems:
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise DatasetError(f"{path}: {len(problems)} bad results: {'; '.join(problems[:_SHOWN])}{more}")
    return data


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _result_problem(r, images: set, categories: set) -> str | None:
    if not isinstance(r, dict):
        return f"a {type(r).__name__}, not an object"
    missing = [k for k in ("image_id", "category_id", "bbox", "score") if k not in r]
    if missing:
        return f"missing {', '.join(missing)}"
    if not isinstance(r["image_id"], int) or isinstance(r["image_id"], bool):
        return f"image_id {r['image_id']!r} is not an integer"
    if r["image_id"] not in images:
        return f"image_id {r['image_id']} is not in the ground truth"
    if not isinstance(r["category_id"], int) or isinstance(r["category_id"], bool):
        return f"category_id {r['category_id']!r} is not an integer"
    if r["category_id"] not in categories:
        return f"category_id {r['category_id']} is not in the ground truth"
    bbox = r["bbox"]
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_number(v) for v in bbox):
        return f"bbox must be 4 numbers [x, y, width, height], got {bbox!r}"[:120]
    if bbox[2] < 0 or bbox[3] < 0:
        return f"bbox {bbox} has a negative width or height"
    if not _number(r["score"]):
        return f"score {r['score']!r} is not a number"
    return None
