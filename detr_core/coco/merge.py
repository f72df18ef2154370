"""Merging two COCO documents: categories matched by name, images by resolved path, and only the
ids of B that collide with A's remapped (to fresh ids above both), so merging the two parts of a
split gives the original back. The result is a new, unsaved document; the inputs are unchanged.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import NamedTuple

from ..errors import DatasetError
from .document import CocoDocument
from .index import path_key


class MergeResult(NamedTuple):
    document: CocoDocument
    warnings: list[str]
    counts: dict[str, int]


class _Ids:
    """Fresh ids above everything in both inputs, for records whose id is already taken."""

    def __init__(self, used: set, also: list):
        self.used = set(used)
        self.next = max([i for i in self.used | set(also) if isinstance(i, int)], default=0) + 1
        self.remapped = 0

    def claim(self, wanted):
        if wanted in self.used:
            wanted, self.next, self.remapped = self.next, self.next + 1, self.remapped + 1
        self.used.add(wanted)
        return wanted


def _merge_licenses(data: dict, a: CocoDocument, b: CocoDocument) -> dict:
    """Add B's licenses to `data` by id; a clashing id with other content gets a fresh id."""
    mine, theirs = data.get("licenses"), b.data.get("licenses")
    if "licenses" not in a.data or not isinstance(mine, list) or not isinstance(theirs, list):
        return {}
    by_id = {lic.get("id"): lic for lic in mine if isinstance(lic, dict)}
    ids = _Ids(set(by_id), [lic.get("id") for lic in theirs if isinstance(lic, dict)])
    remap = {}
    for lic in theirs:
        if not isinstance(lic, dict) or by_id.get(lic.get("id")) == lic:
            continue
        new = copy.deepcopy(lic)
        new["id"] = ids.claim(lic.get("id"))
        if new["id"] != lic.get("id"):
            remap[lic.get("id")] = new["id"]
        mine.append(new)
    return remap


def _relative_to(root: Path, path: Path) -> str:
    try:
        return Path(os.path.relpath(os.path.abspath(path), root)).as_posix()
    except ValueError:
        return Path(os.path.abspath(path)).as_posix()


def _merge_categories(data: dict, b: CocoDocument, warnings: list[str]) -> tuple[dict, _Ids]:
    """Add B's categories missing by name; return {B id: merged id}."""
    ids = _Ids({c["id"] for c in data["categories"]}, [c["id"] for c in b.categories])
    by_name: dict[str, dict] = {}
    for category in data["categories"]:
        by_name.setdefault(category["name"], category)
    remap = {}
    for category in b.categories:
        mine = by_name.get(category["name"])
        if mine is None:
            mine = copy.deepcopy(category)
            mine["id"] = ids.claim(category["id"])
            data["categories"].append(mine)
            by_name[mine["name"]] = mine
        elif mine.get("supercategory") != category.get("supercategory"):
            warnings.append(f"category {category['name']!r}: kept supercategory "
                            f"{mine.get('supercategory')!r}, not {category.get('supercategory')!r}")
        remap[category["id"]] = mine["id"]
    return remap, ids


def _merge_images(data: dict, a: CocoDocument, b: CocoDocument, license_map: dict
                  ) -> tuple[dict, set, _Ids]:
    """Add B's images; the same file as one of A's maps onto A's record. Returns
    ({B id: merged id}, ids of A's images that B also had, id allocator)."""
    ids = _Ids({im["id"] for im in data["images"]}, [im["id"] for im in b.images])
    by_path = {path_key(a.image_root / im["file_name"]): im for im in data["images"]}
    same_root = path_key(a.image_root) == path_key(b.image_root)
    remap, shared = {}, set()
    for image in b.images:
        path = b.image_root / image["file_name"]
        mine = by_path.get(path_key(path))
        if mine is not None:
            if (mine.get("width"), mine.get("height")) != (image.get("width"), image.get("height")):
                raise DatasetError(
                    f"{b.label}: image {image['file_name']} is also in {a.label} with another size "
                    f"({image.get('width')}x{image.get('height')} vs "
                    f"{mine.get('width')}x{mine.get('height')})")
            shared.add(mine["id"])
        else:
            mine = copy.deepcopy(image)
            mine["id"] = ids.claim(image["id"])
            if not same_root:
                mine["file_name"] = _relative_to(a.image_root, path)
            if mine.get("license") in license_map:
                mine["license"] = license_map[mine["license"]]
            data["images"].append(mine)
            by_path[path_key(path)] = mine
        remap[image["id"]] = mine["id"]
    return remap, shared, ids


def _box_key(ann: dict, image_id: int, category_id: int) -> tuple:
    return image_id, category_id, tuple(map(float, ann["bbox"]))


def merge_documents(a: CocoDocument, b: CocoDocument) -> MergeResult:
    """Union of A and B, file_name values relative to A's image root; A's records come first.

    Categories are matched by name; images by resolved path (the same file in both is merged
    into A's record; a different width/height refuses the merge with DatasetError). B's ids
    that collide with A's get fresh ids. B's boxes identical to a box A already has on a shared
    image are dropped; every remap and drop is counted and reported in `warnings`.
    """
    data = copy.deepcopy(a.data)
    for key, value in b.data.items():
        data.setdefault(key, copy.deepcopy(value))
    warnings: list[str] = []
    license_map = _merge_licenses(data, a, b)
    cat_map, cat_ids = _merge_categories(data, b, warnings)
    img_map, shared, img_ids = _merge_images(data, a, b, license_map)
    ann_ids = _Ids({ann["id"] for ann in data["annotations"]}, [ann["id"] for ann in b.annotations])
    seen = {_box_key(ann, ann["image_id"], ann["category_id"])
            for ann in data["annotations"] if ann["image_id"] in shared}
    duplicates = 0
    for ann in b.annotations:
        image_id, cat_id = img_map[ann["image_id"]], cat_map[ann["category_id"]]
        if _box_key(ann, image_id, cat_id) in seen:
            duplicates += 1
            continue
        new = copy.deepcopy(ann)
        new["id"] = ann_ids.claim(ann["id"])
        new["image_id"], new["category_id"] = image_id, cat_id
        data["annotations"].append(new)

    counts = {"images": len(data["images"]), "annotations": len(data["annotations"]),
              "categories": len(data["categories"]), "images_merged": len(shared),
              "duplicate_boxes_dropped": duplicates, "image_ids_remapped": img_ids.remapped,
              "annotation_ids_remapped": ann_ids.remapped,
              "category_ids_remapped": cat_ids.remapped, "license_ids_remapped": len(license_map)}
    if shared:
        warnings.append(f"{len(shared)} images are in both files: merged into one record each")
    if duplicates:
        warnings.append(f"{duplicates} boxes of B duplicate a box of A on the same image: dropped")
    for kind in ("image", "annotation", "category", "license"):
        if counts[f"{kind}_ids_remapped"]:
            warnings.append(f"{counts[f'{kind}_ids_remapped']} {kind} ids of B were already used "
                            "in A: given fresh ids")
    result = CocoDocument(data, a.image_root, json_format=a.json_format)
    result.saved_revision = -1  # never saved
    return MergeResult(result, warnings, counts)
