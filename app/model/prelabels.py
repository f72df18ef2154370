"""The pre-labels each model version proposed that the user took, and what became of them (no Qt).

A pre-label is a prediction the user accepted (one box, or "accept all"): its class and box as the
model proposed them and the id of the annotation it became, per model (the weights' fingerprint,
so a fine-tuned successor is another version) with the checkpoint it was loaded from. Saving the
document writes them beside it, `<name>.json.prelabels.json`, and measures the loop
(detr_core.review.loop.measure_loop) against the saved labels: per version, accepted unchanged,
moved, reclassified, deleted, added by hand. The counts go beside the document,
`<name>.json.loop.json` ({"versions": {fingerprint: stats + "checkpoint"}}), and, when the
checkpoint lies in a training run's folder, into that run's `review_loop.json` (the Runs list
shows them). An accept that was undone counts as deleted: the box the model proposed is not kept.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from detr_core.atomic import atomic_write_json
from detr_core.errors import DatasetError
from detr_core.review.loop import LoopStats, measure_loop

FORMAT = "detr-workbench-prelabels"


def prelabels_path(document_path: str | os.PathLike) -> Path:
    path = Path(document_path)
    return path.with_name(path.name + ".prelabels.json")


def loop_path(document_path: str | os.PathLike) -> Path:
    path = Path(document_path)
    return path.with_name(path.name + ".loop.json")


class PrelabelLog:
    def __init__(self):
        self.models: dict[str, dict] = {}  # fingerprint -> {"checkpoint": source, "prelabels": [COCO result]}

    def __len__(self) -> int:
        return sum(len(m["prelabels"]) for m in self.models.values())

    def add(self, model: str, checkpoint: str, image_id: int, category_id: int, bbox_xywh, annotation_id: int) -> None:
        """One accepted prediction: the model's class (as a file category) and box (COCO xywh)."""
        entry = self.models.setdefault(model, {"checkpoint": checkpoint, "prelabels": []})
        entry["checkpoint"] = checkpoint
        entry["prelabels"].append({"image_id": int(image_id), "category_id": int(category_id),
                                   "bbox": [round(float(v), 2) for v in bbox_xywh],
                                   "annotation_id": int(annotation_id)})

    def clear(self) -> None:
        self.models.clear()

    def stats(self, coco: dict) -> dict[str, LoopStats]:
        """Per model version, what became of its pre-labels in `coco` (the saved document)."""
        return {model: measure_loop(entry["prelabels"], coco) for model, entry in self.models.items()}

    def write(self, document_path: str | os.PathLike) -> Path:
        path = prelabels_path(document_path)
        try:
            atomic_write_json(path, {"format": FORMAT, "version": 1, "models": self.models})
        except OSError as e:
            raise DatasetError(f"{path}: cannot write the pre-labels ({e.strerror or e})") from None
        return path

    def read(self, document_path: str | os.PathLike) -> None:
        """The pre-labels saved beside the document (none: an empty log)."""
        self.clear()
        path = prelabels_path(document_path)
        if not path.is_file():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}")
            models = {str(k): {"checkpoint": str(v.get("checkpoint", "")), "prelabels": list(v["prelabels"])}
                      for k, v in data["models"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise DatasetError(f"{path}: not a pre-labels file ({type(e).__name__}: {e})") from None
        self.models = models


def write_loop_beside(document_path: str | os.PathLike, stats: dict[str, LoopStats],
                      checkpoints: dict[str, str]) -> Path:
    """`<name>.json.loop.json`: the counts per model version, with the checkpoint it came from."""
    path = loop_path(document_path)
    versions = {model: {**s.to_dict(), "checkpoint": checkpoints.get(model, "")} for model, s in stats.items()}
    try:
        atomic_write_json(path, {"versions": versions}, indent=1)
    except OSError as e:
        raise DatasetError(f"{path}: cannot write the loop counts ({e.strerror or e})") from None
    return path
