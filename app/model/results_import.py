"""A COCO detection results file read as predictions of the open document (no Qt; run on a worker).

The file is what `detect --out` or `coco merge-results` writes: a JSON list of {image_id,
category_id, bbox [x, y, w, h] pixels, score}, with `file_name` and `query` when the workbench
wrote it. Each result is matched to an image of the document: by image_id when the image with
that id has the result's file_name (or the result has none), else by file_name (as listed, then
by base name when only one image has it). Category ids are the document's own. The predictions
are keyed, for the decisions on them, by the file's SHA-256 (the merged file does not record the
checkpoint's), at IMPORTED_RESOLUTION.

Bad input changes nothing: `DatasetError`, one line naming the file and the problem (not JSON,
not a results list, results for images the document lacks, unknown category ids, no results).
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from detr_core.errors import DatasetError
from detr_core.images import image_size
from detr_core.infer.detections import Detections

from .payloads import Resolution

IMPORTED_RESOLUTION: Resolution = (0, 0)  # no model input size: the file's predictions
SHOWN_IDS = 5  # offending ids named in a message


@dataclass(frozen=True)
class ImageRef:
    """What the worker needs of one listed image (taken on the GUI thread)."""
    path: str
    name: str  # as listed (relative to the image root)
    image_id: int | None
    size: tuple[int, int] | None  # (width, height) from the document, if it has a record


@dataclass(frozen=True)
class ImportedPredictions:
    source: str
    sha256: str  # decisions on these predictions are kept by it
    by_path: dict[str, Detections]
    results: int

    @property
    def model_key(self) -> str:
        return f"import:{self.sha256}"


def read_results(path: str | Path) -> tuple[list[dict], str]:
    """The results in the file, checked, and the file's SHA-256. DatasetError naming the file."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise DatasetError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, list):
        raise DatasetError(f"{path}: not a COCO results list (a JSON {type(data).__name__}; expected "
                           "a list of {image_id, category_id, bbox, score})")
    if not data:
        raise DatasetError(f"{path}: no results in it")
    for number, result in enumerate(data):
        problem = _problem(result)
        if problem:
            raise DatasetError(f"{path}: not a COCO results list (result {number}: {problem})")
    return data, hashlib.sha256(raw).hexdigest()


def _problem(result) -> str | None:
    if not isinstance(result, dict):
        return f"a {type(result).__name__}, not an object"
    for key in ("image_id", "category_id"):
        if not isinstance(result.get(key), int) or isinstance(result.get(key), bool):
            return f"{key} {result.get(key)!r} is not an integer"
    bbox = result.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)) or bbox[2] < 0 or bbox[3] < 0:
        return f"bbox {bbox!r} is not [x, y, w, h]"
    if not _number(result.get("score")):
        return f"score {result.get('score')!r} is not a number"
    if "file_name" in result and not isinstance(result["file_name"], str):
        return f"file_name {result['file_name']!r} is not text"
    return None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def match_results(source: str, results: list[dict], sha256: str, images: list[ImageRef],
                  categories: list[dict]) -> ImportedPredictions:
    """The results as Detections per image path. DatasetError when a result's image or category
    is not in the document."""
    by_id = {ref.image_id: ref for ref in images if ref.image_id is not None}
    by_name = {ref.name: ref for ref in images}
    base_names = Counter(PurePosixPath(ref.name).name for ref in images)
    by_base = {PurePosixPath(ref.name).name: ref for ref in images if base_names[PurePosixPath(ref.name).name] == 1}

    def image_of(result: dict) -> ImageRef | None:
        ref, name = by_id.get(result["image_id"]), result.get("file_name")
        if name is None or (ref is not None and ref.name == name):
            return ref
        return by_name.get(name) or by_base.get(PurePosixPath(name).name)

    matched: dict[str, tuple[ImageRef, list[dict]]] = {}
    unmatched = []
    for result in results:
        ref = image_of(result)
        if ref is None:
            unmatched.append(result.get("file_name") or f"image_id {result['image_id']}")
        else:
            matched.setdefault(ref.path, (ref, []))[1].append(result)
    if unmatched:
        shown = ", ".join(str(u) for u in sorted(set(unmatched))[:SHOWN_IDS])
        raise DatasetError(f"{source}: {len(unmatched)} results are for images not in the open document "
                           f"({shown}{', …' if len(set(unmatched)) > SHOWN_IDS else ''})")
    known = {c["id"]: i for i, c in enumerate(categories)}
    unknown = sorted({r["category_id"] for r in results} - set(known))
    if unknown:
        raise DatasetError(f"{source}: category ids {', '.join(map(str, unknown[:SHOWN_IDS]))} are not "
                           "categories of the open document")
    names = [str(c["name"]) for c in categories]
    by_path = {path: _detections(ref, found, known, names) for path, (ref, found) in matched.items()}
    return ImportedPredictions(str(source), sha256, by_path, len(results))


def _detections(ref: ImageRef, results: list[dict], known: dict[int, int], names: list[str]) -> Detections:
    width, height = ref.size if ref.size is not None else image_size(ref.path)
    queries = [r.get("query") for r in results]
    if not all(isinstance(q, int) and q >= 0 for q in queries) or len(set(queries)) != len(queries):
        queries = list(range(len(results)))  # one number per result of this image
    xywh = np.array([r["bbox"] for r in results], dtype=np.float32).reshape(-1, 4)  # [N, 4] pixels
    boxes_xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    scale = np.array([width, height, width, height], dtype=np.float32)
    boxes_cxcywh = np.concatenate([xywh[:, :2] + xywh[:, 2:] / 2, xywh[:, 2:]], axis=1) / np.maximum(scale, 1)
    return Detections(image_size=(int(width), int(height)), input_size=IMPORTED_RESOLUTION,
                      class_names=list(names),
                      labels=np.array([known[r["category_id"]] for r in results], dtype=np.int64),
                      scores=np.array([r["score"] for r in results], dtype=np.float32),
                      boxes_xyxy=boxes_xyxy, logits=np.zeros((len(results), len(names) + 1), np.float32),
                      boxes_cxcywh=boxes_cxcywh.astype(np.float32), source=ref.path,
                      query=np.array(queries, dtype=np.int64))


def import_results(path: str | Path, images: list[ImageRef], categories: list[dict]) -> ImportedPredictions:
    """Read and match, on a worker thread."""
    results, sha256 = read_results(path)
    return match_results(str(path), results, sha256, images, categories)
