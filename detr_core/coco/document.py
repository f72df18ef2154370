"""CocoDocument: a COCO instances file in memory, edited in place, saved back losslessly.

It edits the parsed JSON object (`data`) in place, so every key it does not edit (`info`,
`segmentation`, unknown keys, key order) is written back as read; a `CocoIndex` serves lookups.

Edits return what their undo needs (the GUI wraps them in QUndoCommands):
    add_annotation -> id (undo: remove_annotation(id) -> (index, ann); redo: insert_annotation)
    set_bbox, set_category, rename_category, set_supercategory, set_image_field,
        set_category_field -> the old value (undo: call again with it; a load-time bbox brings
        its load-time area back)
    add_image / add_category -> id (undo: remove_image / remove_category -> record; redo: restore)
    remove_image / remove_category / merge_categories -> record (undo: restore; redo: reapply)
Records are undone in stack order, as a QUndoStack does. New ids are max existing + 1, never
handed out twice in one session.

Every edit is `@recorded` (changes.py): observers (`memory.add_observer`) hear of each finished edit
as a `Change` that replays exactly (the journal keeps them). `CategoryEdits` does category edits.
"""
from __future__ import annotations

import copy
import os
from datetime import datetime, timezone
from pathlib import Path

from ..errors import DatasetError, EditRefused
from .category_edits import CategoryEdits, position, reinsert, remove_where
from .changes import MISSING as _MISSING, EditMemory, recorded
from .index import CocoIndex
from .io import DiskState, JsonFormat, read_coco, relative_name, write_atomic
from .validate import LoadReport, bbox_problem, is_int

_NEW_FORMAT = JsonFormat(indent=None, separators=(",", ":"))
_ANNOTATION_KEYS = ("id", "image_id", "category_id", "bbox")
_IMAGE_KEYS = ("id", "file_name", "width", "height")


def _set_key(record: dict, key: str, value) -> object:
    """Set (None: remove) one key of a record; returns the old value (None if absent)."""
    old = record.get(key)
    if value is None:
        record.pop(key, None)
    else:
        record[key] = value
    return old


def _checked_bbox(bbox_xywh) -> list[float]:
    bad = bbox_problem(bbox_xywh)
    if bad:
        raise EditRefused(bad)
    return [float(v) for v in bbox_xywh]


class CocoDocument:
    """A COCO instances document. `path` is the JSON file; image file_name values are relative to
    `image_root`. `revision` counts edits; `dirty` is True while it differs from the saved one."""

    def __init__(self, data: dict, image_root, path=None, *,
                 json_format: JsonFormat = _NEW_FORMAT, disk: DiskState | None = None):
        """Wrap an already checked COCO object (use `load` or `new` to get one checked)."""
        self.data = data
        self.path = Path(path).absolute() if path is not None else None
        self._image_root = Path(image_root).absolute()
        self.revision = 0
        self.saved_revision = 0
        self._format = json_format
        self._disk = disk
        self._index = CocoIndex(data)
        self.memory = EditMemory(data)  # next ids, load-time geometry, observers (changes.py)
        self._categories = CategoryEdits(data, self._index, lambda: self.memory.fresh_id("categories"),
                                         lambda: self.label)

    # --- creating ---

    @classmethod
    def load(cls, path, image_root=None, *, strict: bool = False
             ) -> tuple["CocoDocument", LoadReport]:
        """Read and check `path`. `image_root`: see `io.find_image_root` for the default.
        Raises DatasetError (one line: path, problem count, first problems) if refused."""
        loaded = read_coco(path, image_root, strict=strict)
        if loaded.report.problems:
            raise DatasetError(loaded.report.problem_line())
        doc = cls(loaded.data, loaded.image_root, path, json_format=loaded.format,
                  disk=loaded.state)
        return doc, loaded.report

    @classmethod
    def new(cls, image_root, images=(), categories=()) -> "CocoDocument":
        """An unsaved document; `images` are (path, width, height), category ids start at 1."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        data = {"info": {"description": "Created with DETR Workbench", "date_created": now},
                "licenses": [], "images": [], "annotations": [], "categories": []}
        doc = cls(data, image_root)
        for name in categories:
            doc.add_category(name)
        for path, width, height in images:
            doc.add_image(path, width, height)
        doc.revision, doc.saved_revision = 0, -1  # never saved: dirty
        return doc

    # --- reading ---

    @property
    def images(self) -> list[dict]:
        return self.data["images"]

    @property
    def annotations(self) -> list[dict]:
        return self.data["annotations"]

    @property
    def categories(self) -> list[dict]:
        return self.data["categories"]

    @property
    def dirty(self) -> bool:
        return self.revision != self.saved_revision

    @property
    def image_root(self) -> Path:
        return self._image_root

    @image_root.setter
    def image_root(self, folder) -> None:
        self._image_root = Path(folder).absolute()
        self._index.forget_paths()

    @property
    def disk(self) -> DiskState | None:
        """The file as it was when loaded or last saved (None: never read from or written to)."""
        return self._disk

    @property
    def json_format(self) -> JsonFormat:
        """How the file was formatted (indent, separators); saves keep it."""
        return self._format

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else "(unsaved document)"

    def image(self, image_id: int) -> dict:
        return self._index.images[image_id]

    def image_path(self, image_id: int) -> Path:
        return self._image_root / self.image(image_id)["file_name"]

    def find_image(self, path) -> int | None:
        """The id of the image stored at `path` (compared as absolute, then resolved, paths)."""
        return self._index.find_path(path, self._image_root, self.images)

    def annotations_for(self, image_id: int) -> list[dict]:
        """The image's annotation dicts in file order (a new list of the live dicts). O(boxes)."""
        return list(self._index.by_image[image_id])

    def annotation(self, ann_id: int) -> dict:
        return self._index.annotations[ann_id]

    def category(self, cat_id: int) -> dict:
        return self._index.categories[cat_id]

    def category_by_name(self, name: str) -> dict | None:
        return self._index.by_name.get(name)

    # --- editing images and annotations ---

    @recorded
    def add_image(self, path, width: int, height: int, **extra) -> int:
        """Add an image (file_name stored relative to image_root); returns its new id."""
        if not (is_int(width) and width > 0 and is_int(height) and height > 0):
            raise EditRefused(f"image size must be positive integers, got {width!r}x{height!r}")
        if set(extra) & set(_IMAGE_KEYS):
            raise ValueError(f"add_image sets {', '.join(_IMAGE_KEYS)} itself")
        existing = self.find_image(path)
        if existing is not None:
            raise EditRefused(f"{self.label}: {path} is already in the document (image {existing})")
        image = {"id": self.memory.fresh_id("images"), "file_name": relative_name(path, self._image_root),
                 "width": width, "height": height, **extra}
        self.images.append(image)
        self._index.images[image["id"]] = image
        self._index.by_image[image["id"]] = []
        self._index.add_path(image, self._image_root)
        self.revision += 1
        return image["id"]

    @recorded
    def remove_image(self, image_id: int) -> dict:
        """Remove an image and its annotations; returns the record `restore` needs."""
        image = self.image(image_id)
        index = position(self.images, image)
        removed = remove_where(self.annotations, lambda a: a["image_id"] == image_id)
        del self.images[index]
        self._index.rebuild(self.data)
        self.revision += 1
        return {"op": "remove_image", "image_index": index, "image": image, "removed": removed}

    @recorded
    def add_annotation(self, image_id: int, category_id: int, bbox_xywh, **extra) -> int:
        """Append a box; area = w*h, iscrowd 0 and segmentation [] unless given in `extra`."""
        bbox = _checked_bbox(bbox_xywh)
        self.image(image_id)  # KeyError for an unknown image or category
        self.category(category_id)
        if set(extra) & set(_ANNOTATION_KEYS):
            raise ValueError(f"add_annotation sets {', '.join(_ANNOTATION_KEYS)} itself")
        ann = {"id": self.memory.fresh_id("annotations"), "image_id": image_id,
               "category_id": category_id, "bbox": bbox, "area": bbox[2] * bbox[3],
               "segmentation": [], "iscrowd": 0, **extra}
        self.annotations.append(ann)
        self._index.annotations[ann["id"]] = ann
        self._index.by_image[image_id].append(ann)
        self.revision += 1
        return ann["id"]

    @recorded
    def insert_annotation(self, index: int, ann: dict) -> None:
        """Put `ann` (e.g. the dict remove_annotation returned) back at position `index`."""
        if ann["id"] in self._index.annotations:
            raise ValueError(f"annotation id {ann['id']} is already in the document")
        if not 0 <= index <= len(self.annotations):
            raise IndexError(f"annotation index {index} out of range 0..{len(self.annotations)}")
        image_id = ann["image_id"]
        same_image = self._index.by_image[image_id]
        self.category(ann["category_id"])
        before = 0
        if same_image:  # how many of this image's boxes come before `index` in the file
            before = sum(1 for a in self.annotations[:index] if a["image_id"] == image_id)
        self.annotations.insert(index, ann)
        same_image.insert(before, ann)
        self._index.annotations[ann["id"]] = ann
        self.memory.next_id["annotations"] = max(self.memory.next_id["annotations"], ann["id"] + 1)
        self.revision += 1

    @recorded
    def remove_annotation(self, ann_id: int) -> tuple[int, dict]:
        """Remove a box; returns (index in the file, the dict) for insert_annotation."""
        ann = self.annotation(ann_id)
        index = position(self.annotations, ann)
        del self.annotations[index]
        same_image = self._index.by_image[ann["image_id"]]
        del same_image[position(same_image, ann)]
        del self._index.annotations[ann_id]
        self.revision += 1
        return index, ann

    @recorded
    def set_bbox(self, ann_id: int, bbox_xywh, *, area=None) -> list[float]:
        """Move/resize a box and set area = w*h (or `area`); returns the old bbox.

        Setting a box back to its load-time bbox (what an undo does) restores the load-time
        values exactly, area included, so undoing every edit gives back the file as it was.
        """
        ann = self.annotation(ann_id)
        bbox = _checked_bbox(bbox_xywh)
        old = ann["bbox"]
        first_bbox, first_area = self.memory.load_geometry.setdefault(
            ann_id, (list(old), ann.get("area", _MISSING)))
        if area is None and bbox == [float(v) for v in first_bbox]:
            ann["bbox"] = list(first_bbox)
            if first_area is _MISSING:
                ann.pop("area", None)
            else:
                ann["area"] = first_area
        else:
            ann["bbox"] = bbox
            ann["area"] = bbox[2] * bbox[3] if area is None else area
        self.revision += 1
        return [float(v) for v in old]

    @recorded
    def set_category(self, ann_id: int, category_id: int) -> int:
        """Change a box's class; returns the old category id."""
        ann = self.annotation(ann_id)
        self.category(category_id)
        old = ann["category_id"]
        ann["category_id"] = category_id
        self.revision += 1
        return old

    @recorded
    def set_image_field(self, image_id: int, key: str, value) -> object:
        """Set a workbench key of an image record (e.g. its status); None removes the key.
        Returns the old value (None if absent)."""
        if key in _IMAGE_KEYS:
            raise ValueError(f"set_image_field cannot set {key!r}")
        self.revision += 1
        return _set_key(self.image(image_id), key, value)

    @recorded
    def set_category_field(self, cat_id: int, key: str, value) -> object:
        """Set a key of a category record (e.g. its colour); None removes it. Returns the old."""
        if key in ("id", "name"):
            raise ValueError(f"set_category_field cannot set {key!r}")
        self.revision += 1
        return _set_key(self.category(cat_id), key, value)

    # --- undo records ---

    @recorded
    def restore(self, record: dict) -> None:
        """Undo remove_image, remove_category or merge_categories from the record they returned."""
        op = record["op"]
        if op in ("remove_category", "merge_categories"):
            self.categories.insert(record["category_index"], record["category"])
            for ann_id in record["moved"]:
                self._index.annotations[ann_id]["category_id"] = record["category"]["id"]
        elif op == "remove_image":
            self.images.insert(record["image_index"], record["image"])
        else:
            raise ValueError(f"unknown undo record {op!r}")
        reinsert(self.annotations, record["removed"])
        self._index.rebuild(self.data)
        self.revision += 1

    undo_merge = restore

    @recorded
    def reapply(self, record: dict) -> dict:
        """Redo the edit a record came from (after `restore`); returns an equal new record."""
        op, target = record["op"], record.get("target_id")
        if op == "remove_image":
            return self.remove_image(record["image"]["id"])
        if op == "merge_categories":
            return self.merge_categories(record["category"]["id"], target)
        if op == "remove_category":
            return self.remove_category(record["category"]["id"], boxes=record["boxes"],
                                        target_id=target)
        raise ValueError(f"unknown undo record {op!r}")

    # --- saving ---

    def to_json(self) -> dict:
        """A deep copy of the whole COCO object, safe to change or hand to other libraries."""
        return copy.deepcopy(self.data)

    def save(self, path=None, *, force: bool = False, backup: bool = True) -> None:
        """Write atomically to `path` (default: where it was loaded from / last saved).

        Raises DiskChangedError if the file changed on disk since then (unless `force`), and
        DatasetError if writing fails; in both cases the file and the edits stay as they were.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise DatasetError("unsaved document: give a file name to save to")
        same_file = self.path is not None and os.path.abspath(target) == os.path.abspath(self.path)
        payload = self._format.dumps(self.data).encode("utf-8")
        self._disk = write_atomic(target, payload, expected=self._disk if same_file else None,
                                  force=force, backup=backup)
        self.path = target.absolute()
        self.saved_revision = self.revision

    # --- editing categories (done by CategoryEdits) ---

    @recorded
    def add_category(self, name: str, supercategory: str = "", **extra) -> int:
        """Add a class; returns its new id. Undo: remove_category(id), redo: restore(record)."""
        cat_id = self._categories.add(name, supercategory, **extra)
        self.revision += 1
        return cat_id

    @recorded
    def rename_category(self, cat_id: int, name: str) -> str:
        """Returns the old name."""
        old = self._categories.rename(cat_id, name)
        self.revision += 1
        return old

    @recorded
    def set_supercategory(self, cat_id: int, supercategory: str | None) -> str | None:
        """Returns the old supercategory (None if the key was absent; None removes the key)."""
        old = self._categories.set_supercategory(cat_id, supercategory)
        self.revision += 1
        return old

    @recorded
    def merge_categories(self, source_id: int, target_id: int) -> dict:
        """Move every box of `source_id` to `target_id` and remove `source_id`; returns the undo
        record (see `remove_category`)."""
        return self._remove_category(source_id, "keep-as", target_id, "merge_categories")

    @recorded
    def remove_category(self, cat_id: int, *, boxes: str = "delete", target_id=None) -> dict:
        """Remove a class. boxes="delete" deletes its boxes; "keep-as" moves them to target_id.

        Returns the undo record {"op", "category_index", "category" (the removed dict), "boxes",
        "target_id", "moved": [ann ids moved to target], "removed": [(file index, ann dict)]}.
        Undo: restore(record); redo: reapply(record).
        """
        return self._remove_category(cat_id, boxes, target_id, "remove_category")

    def _remove_category(self, cat_id: int, boxes: str, target_id, op: str) -> dict:
        record = self._categories.remove(cat_id, boxes, target_id, op=op)
        self.revision += 1
        return record
