"""Category edits of a COCO object (add, rename, merge, remove), and the list helpers the undo
records of CocoDocument rely on. CocoDocument owns one `CategoryEdits` and delegates to it; the
object is handed everything it touches (the COCO object, its index, an id source and a label for
messages) and reads nothing else of the document, so each file stays one readable concept."""
from __future__ import annotations

from typing import Callable

from ..errors import EditRefused
from .index import CocoIndex

BOX_POLICIES = ("delete", "keep-as")


def position(seq: list, item) -> int:
    """Index of `item` itself in `seq` (identity, not ==: two equal boxes are different boxes)."""
    for i, x in enumerate(seq):
        if x is item:
            return i
    raise ValueError("item not in list")


def remove_where(seq: list, predicate) -> list[tuple[int, object]]:
    """Remove matching items in place (one pass); return [(old index, item)] ascending."""
    removed, kept = [], []
    for i, x in enumerate(seq):
        if predicate(x):
            removed.append((i, x))
        else:
            kept.append(x)
    if removed:
        seq[:] = kept
    return removed


def reinsert(seq: list, removed: list[tuple[int, object]]) -> None:
    """Inverse of remove_where: put each item back at its old index (one pass)."""
    if not removed:
        return
    out, rest = [], iter(seq)
    for index, item in removed:
        while len(out) < index:
            out.append(next(rest))
        out.append(item)
    out.extend(rest)
    seq[:] = out


class CategoryEdits:
    """The category edits of one COCO object `data`, keeping `index` in step.

    `fresh_id()` hands out the next category id, `label()` names the document in messages. The
    caller (CocoDocument) counts revisions and reports changes; this object only edits.
    """

    def __init__(self, data: dict, index: CocoIndex, fresh_id: Callable[[], int],
                 label: Callable[[], str]):
        self.data = data
        self.index = index
        self.fresh_id = fresh_id
        self.label = label

    def category(self, cat_id: int) -> dict:
        return self.index.categories[cat_id]  # KeyError for an unknown id

    def checked_name(self, name, cat_id: int | None = None) -> str:
        if not isinstance(name, str) or not name.strip():
            raise EditRefused(f"category name must be a non-empty string, got {name!r}")
        other = self.index.by_name.get(name)
        if other is not None and other["id"] != cat_id:
            raise EditRefused(f"{self.label()}: category {name!r} already exists (id {other['id']})")
        return name

    def add(self, name: str, supercategory: str = "", **extra) -> int:
        if {"id", "name", "supercategory"} & set(extra):
            raise ValueError("add_category sets id, name and supercategory itself")
        name = self.checked_name(name)
        category = {"id": self.fresh_id(), "name": name, "supercategory": supercategory, **extra}
        self.data["categories"].append(category)
        self.index.categories[category["id"]] = category
        self.index.by_name[category["name"]] = category
        return category["id"]

    def rename(self, cat_id: int, name: str) -> str:
        category = self.category(cat_id)
        old = category["name"]
        category["name"] = self.checked_name(name, cat_id)
        self.index.rebuild_names(self.data)
        return old

    def set_supercategory(self, cat_id: int, supercategory: str | None) -> str | None:
        category = self.category(cat_id)
        old = category.get("supercategory")
        if supercategory is None:
            category.pop("supercategory", None)
        else:
            category["supercategory"] = supercategory
        return old

    def remove(self, cat_id: int, boxes: str, target_id, *, op: str) -> dict:
        """Remove `cat_id`, deleting its boxes or moving them to `target_id`; the undo record."""
        category = self.category(cat_id)
        if boxes not in BOX_POLICIES:
            raise ValueError(f"boxes must be one of {BOX_POLICIES}, got {boxes!r}")
        annotations, categories = self.data["annotations"], self.data["categories"]
        moved, removed = [], []
        if boxes == "keep-as":
            if target_id == cat_id:
                raise EditRefused(f"category {cat_id} cannot be merged into itself")
            self.category(target_id)  # KeyError for an unknown target
            for ann in annotations:
                if ann["category_id"] == cat_id:
                    ann["category_id"] = target_id
                    moved.append(ann["id"])
        else:
            target_id = None
            removed = remove_where(annotations, lambda a: a["category_id"] == cat_id)
        index = position(categories, category)
        del categories[index]
        self.index.rebuild(self.data)
        return {"op": op, "category_index": index, "category": category, "boxes": boxes,
                "target_id": target_id, "moved": moved, "removed": removed}
