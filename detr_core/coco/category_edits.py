"""Category edits of CocoDocument (add, rename, merge, remove) and the list helpers its undo
records rely on. Kept apart from document.py so each file stays one readable concept."""
from __future__ import annotations

from ..errors import EditRefused

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


class CategoryEditsMixin:
    """Category edits; needs the CocoDocument attributes (`categories`, `_index`, ...)."""

    def _checked_name(self, name, cat_id: int | None = None) -> str:
        if not isinstance(name, str) or not name.strip():
            raise EditRefused(f"category name must be a non-empty string, got {name!r}")
        other = self._index.by_name.get(name)
        if other is not None and other["id"] != cat_id:
            raise EditRefused(f"{self.label}: category {name!r} already exists (id {other['id']})")
        return name

    def add_category(self, name: str, supercategory: str = "", **extra) -> int:
        """Add a class; returns its new id. Undo: remove_category(id), redo: restore(record)."""
        if {"id", "name", "supercategory"} & set(extra):
            raise ValueError("add_category sets id, name and supercategory itself")
        category = {"id": self._fresh_id("categories"), "name": self._checked_name(name),
                    "supercategory": supercategory, **extra}
        self.categories.append(category)
        self._index.categories[category["id"]] = category
        self._index.by_name[category["name"]] = category
        self._touch()
        return category["id"]

    def rename_category(self, cat_id: int, name: str) -> str:
        """Returns the old name."""
        category = self.category(cat_id)
        old = category["name"]
        category["name"] = self._checked_name(name, cat_id)
        self._index.rebuild_names(self.data)
        self._touch()
        return old

    def set_supercategory(self, cat_id: int, supercategory: str | None) -> str | None:
        """Returns the old supercategory (None if the key was absent; None removes the key)."""
        category = self.category(cat_id)
        old = category.get("supercategory")
        if supercategory is None:
            category.pop("supercategory", None)
        else:
            category["supercategory"] = supercategory
        self._touch()
        return old

    def merge_categories(self, source_id: int, target_id: int) -> dict:
        """Move every box of `source_id` to `target_id` and remove `source_id`; returns the undo
        record (see `remove_category`)."""
        return self._remove_category(source_id, "keep-as", target_id, op="merge_categories")

    def remove_category(self, cat_id: int, *, boxes: str = "delete", target_id=None) -> dict:
        """Remove a class. boxes="delete" deletes its boxes; "keep-as" moves them to target_id.

        Returns the undo record {"op", "category_index", "category" (the removed dict), "boxes",
        "target_id", "moved": [ann ids moved to target], "removed": [(file index, ann dict)]}.
        Undo: restore(record); redo: reapply(record).
        """
        return self._remove_category(cat_id, boxes, target_id, op="remove_category")

    def _remove_category(self, cat_id: int, boxes: str, target_id, *, op: str) -> dict:
        category = self.category(cat_id)
        if boxes not in BOX_POLICIES:
            raise ValueError(f"boxes must be one of {BOX_POLICIES}, got {boxes!r}")
        moved, removed = [], []
        if boxes == "keep-as":
            if target_id == cat_id:
                raise EditRefused(f"category {cat_id} cannot be merged into itself")
            self.category(target_id)  # KeyError for an unknown target
            for ann in self.annotations:
                if ann["category_id"] == cat_id:
                    ann["category_id"] = target_id
                    moved.append(ann["id"])
        else:
            target_id = None
            removed = remove_where(self.annotations, lambda a: a["category_id"] == cat_id)
        index = position(self.categories, category)
        del self.categories[index]
        self._index.rebuild(self.data)
        self._touch()
        return {"op": op, "category_index": index, "category": category, "boxes": boxes,
                "target_id": target_id, "moved": moved, "removed": removed}
