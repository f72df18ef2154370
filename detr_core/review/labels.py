"""The labels of one image as the review needs them, and the mapping between the model's classes
and the file's categories.

The mapping: when the checkpoint records each class's dataset category id (metadata
"category_ids") and those ids carry the same names in the file, by id; otherwise by name (compared
without case, spaces/underscores/hyphens alike). A category the model does not know is listed, and
its boxes are kept out of the model-based checks (only the label-only conflict check sees them).
A model class no category maps to gives no findings (its predictions are not about this file's
classes); when no class maps at all, the review refuses (`require_some`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower())


@dataclass(frozen=True)
class ClassMapping:
    to_model: dict[int, int]  # file category id -> model class index
    to_category: dict[int, int]  # model class index -> file category id
    how: str  # "ids" | "names"
    unknown: tuple[str, ...] = ()  # file categories the model has no class for
    note: str = ""  # said on the queue when the mapping is not the identity
    unmatched: tuple[str, ...] = ()  # model classes no file category maps to (no findings of theirs)
    model_classes: int = 0  # K, the model's classes

    @classmethod
    def build(cls, model_names: Sequence[str], categories: Sequence[dict],
              model_category_ids: Sequence[int] | None = None) -> "ClassMapping":
        """model_names [K]; categories: the file's COCO categories; model_category_ids [K] or None."""
        by_id = {int(c["id"]): str(c["name"]) for c in categories}
        shared = [int(cid) for cid in (model_category_ids or []) if int(cid) in by_id]
        if shared and len(model_category_ids) == len(model_names) and all(
                _key(by_id.get(int(cid), "")) == _key(name)
                for cid, name in zip(model_category_ids, model_names) if int(cid) in by_id):
            to_model = {int(cid): k for k, cid in enumerate(model_category_ids) if int(cid) in by_id}
            how = "ids"
        else:
            rows = {}
            for k, name in enumerate(model_names):
                rows.setdefault(_key(name), k)
            to_model = {cid: rows[_key(name)] for cid, name in by_id.items() if _key(name) in rows}
            how = "names"
        unknown = tuple(name for cid, name in sorted(by_id.items()) if cid not in to_model)
        to_category = {k: cid for cid, k in to_model.items()}
        unmatched = tuple(str(name) for k, name in enumerate(model_names) if k not in to_category)
        note = ""
        if how == "names" or unknown or unmatched:
            note = (f"model classes mapped by {'name' if how == 'names' else 'id'}: "
                    f"{len(to_category)} of {len(model_names)}")
            if unmatched:
                note += f"; unmatched: {_listed(unmatched)} (no findings from them)"
            if unknown:
                note += f"; file categories the model does not know (not checked against it): {_listed(unknown)}"
        return cls(to_model, to_category, how, unknown, note, unmatched, len(model_names))

    @property
    def mapped_classes(self) -> frozenset[int]:
        """The model classes that have a file category: the only ones findings may come from."""
        return frozenset(self.to_category)

    def require_some(self, where) -> None:
        """Raise DatasetError naming `where` (the COCO file) when no model class maps to a category:
        every finding would be about classes the file does not have."""
        from ..errors import DatasetError

        if not self.to_category:
            raise DatasetError(f"{where}: none of the model's {self.model_classes} classes "
                               f"({_listed(self.unmatched)}) matches a category of the file "
                               f"({_listed(self.unknown) or 'none'}) by id or by name; nothing to review")


def _listed(names: Sequence[str], most: int = 5) -> str:
    return ", ".join(names[:most]) + (" ..." if len(names) > most else "")


@dataclass
class ImageLabels:
    """The boxes of one image: L labels, pixel xyxy."""

    image_id: int
    file_name: str
    width: int
    height: int
    annotation_ids: np.ndarray  # [L] int64
    category_ids: np.ndarray  # [L] int64, the file's ids
    classes: np.ndarray  # [L] int64, model class index, -1 where the model has no such class
    boxes_xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))  # [L, 4]

    def __len__(self) -> int:
        return len(self.annotation_ids)

    @property
    def known(self) -> np.ndarray:
        """[L] bool: labels whose class the model has."""
        return self.classes >= 0


def labels_by_image(coco: dict, mapping: ClassMapping) -> list[ImageLabels]:
    """Every image of a COCO dict (in file order) with its boxes; crowd boxes are left out."""
    per_image: dict[int, list[dict]] = {}
    for a in coco.get("annotations", []):
        if not a.get("iscrowd") and "bbox" in a:
            per_image.setdefault(int(a["image_id"]), []).append(a)
    out = []
    for im in coco.get("images", []):
        anns = per_image.get(int(im["id"]), [])
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)],
                         dtype=np.float32).reshape(-1, 4)
        cats = np.array([int(a["category_id"]) for a in anns], dtype=np.int64)
        out.append(ImageLabels(int(im["id"]), str(im["file_name"]), int(im.get("width") or 0),
                               int(im.get("height") or 0),
                               np.array([int(a["id"]) for a in anns], dtype=np.int64), cats,
                               np.array([mapping.to_model.get(int(c), -1) for c in cats], dtype=np.int64),
                               boxes))
    return out
