"""Splitting a COCO document by image (stratified, seeded) and merging two documents back.

Both return new, unsaved documents made of deep copies; the inputs are never changed. Splitting
keeps every id and every top-level key; merging A and B keeps A's ids and remaps only B's ids that
collide, so merging the two parts of a split gives the original back (up to record order).
"""
from __future__ import annotations

import copy
import os
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

from ..errors import DatasetError
from .document import CocoDocument
from .index import path_key

TRAIN, VAL = "train", "val"


class SplitResult(NamedTuple):
    train: CocoDocument
    val: CocoDocument
    unsatisfied: list[int]  # ids of classes with >= 2 images that could not be put in both parts


class MergeResult(NamedTuple):
    document: CocoDocument
    warnings: list[str]
    counts: dict[str, int]


def _ensure_both_sides(side: dict, images_of: dict) -> None:
    """Rarest class first: give every class with >= 2 images one free image on each side."""
    for cat in sorted(images_of, key=lambda c: (len(images_of[c]), c)):
        imgs = images_of[cat]
        if len(imgs) < 2:
            continue
        for part in (VAL, TRAIN):
            if any(side.get(i) == part for i in imgs):
                continue
            free = next((i for i in imgs if i not in side), None)
            if free is not None:
                side[free] = part


def _repair(side: dict, images_of: dict, classes_of: dict) -> list[int]:
    """Move single images to fix classes still on one side; return the classes left unfixed."""
    unsatisfied = []
    for cat in sorted(images_of):
        imgs = images_of[cat]
        if len(imgs) < 2:
            continue
        for part, other in ((VAL, TRAIN), (TRAIN, VAL)):
            if any(side[i] == part for i in imgs):
                continue
            for i in imgs:  # movable if its other classes keep an image on `other`
                if all(c == cat or sum(side[j] == other for j in images_of[c]) > 1
                       for c in classes_of[i]):
                    side[i] = part
                    break
            else:
                unsatisfied.append(cat)
    return sorted(set(unsatisfied))


def split_image_ids(doc: CocoDocument, val_fraction: float, seed: int = 0
                    ) -> tuple[list[int], list[int], list[int]]:
    """(train image ids, val image ids, unsatisfied class ids), ids in file order.

    Greedy stratification: first one image on each side for every class with >= 2 images
    (rarest class first), then the other images in seeded random order, each to the side its
    classes are further below their share on; images without boxes fill by the requested ratio.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    rng = random.Random(seed)
    order = [im["id"] for im in doc.images]
    rng.shuffle(order)
    n = len(order)
    n_val = min(max(round(n * val_fraction), 1), n - 1) if n >= 2 else 0
    classes_of = {i: sorted({a["category_id"] for a in doc.annotations_for(i)}) for i in order}
    images_of: dict[int, list[int]] = defaultdict(list)
    for i in order:
        for cat in classes_of[i]:
            images_of[cat].append(i)
    side: dict[int, str] = {}
    _ensure_both_sides(side, images_of)
    count = {VAL: Counter(), TRAIN: Counter()}
    for i, part in side.items():
        count[part].update(classes_of[i])
    share = {VAL: val_fraction, TRAIN: 1 - val_fraction}
    in_val = sum(part == VAL for part in side.values())
    remaining = [i for i in order if i not in side]
    for k, i in enumerate(remaining):
        need, left = n_val - in_val, len(remaining) - k
        lack = {p: sum(1 - count[p][c] / (share[p] * len(images_of[c])) for c in classes_of[i])
                for p in (VAL, TRAIN)}
        if need <= 0 or need >= left:
            part = VAL if need > 0 else TRAIN
        elif lack[VAL] != lack[TRAIN]:
            part = VAL if lack[VAL] > lack[TRAIN] else TRAIN
        else:
            part = VAL if rng.random() < need / left else TRAIN
        side[i] = part
        count[part].update(classes_of[i])
        in_val += part == VAL
    unsatisfied = _repair(side, images_of, classes_of)
    file_order = [im["id"] for im in doc.images]
    return ([i for i in file_order if side.get(i, TRAIN) == TRAIN],
            [i for i in file_order if side.get(i) == VAL], unsatisfied)


def _subset(doc: CocoDocument, image_ids: set[int]) -> CocoDocument:
    data = {}
    for key, value in doc.data.items():
        if key == "images":
            data[key] = [copy.deepcopy(im) for im in value if im["id"] in image_ids]
        elif key == "annotations":
            data[key] = [copy.deepcopy(a) for a in value if a["image_id"] in image_ids]
        else:
            data[key] = copy.deepcopy(value)
    part = CocoDocument(data, doc.image_root, format=doc.json_format)
    part.saved_revision = -1  # never saved
    return part


def split_document(doc: CocoDocument, val_fraction: float = 0.2, seed: int = 0) -> SplitResult:
    """Split by image into train and val documents (same seed -> same split). Both keep every
    top-level key (info, licenses, all categories) and all ids."""
    train_ids, val_ids, unsatisfied = split_image_ids(doc, val_fraction, seed)
    return SplitResult(_subset(doc, set(train_ids)), _subset(doc, set(val_ids)), unsatisfied)


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
        remap[lic.get("id")] = new["id"]
        mine.append(new)
    return remap


def _relative_to(root: Path, path: Path) -> str:
    try:
        return Path(os.path.relpath(os.path.abspath(path), root)).as_posix()
    except ValueError:
        return Path(os.path.abspath(path)).as_posix()


def merge_documents(a: CocoDocument, b: CocoDocument) -> MergeResult:
    """Union of A and B, file_name values relative to A's image root.

    Categories are matched by name; images by resolved path (the same file in both is merged
    into A's record; a different width/height refuses the merge). B's ids that collide with
    A's get fresh ids. B's boxes identical to a box A already has on a merged image are dropped
    and reported.
    """
    data = copy.deepcopy(a.data)
    for key, value in b.data.items():
        data.setdefault(key, copy.deepcopy(value))
    license_map = _merge_licenses(data, a, b)
    warnings: list[str] = []
    cat_ids = _Ids({c["id"] for c in data["categories"]}, [c["id"] for c in b.categories])
    by_name = {}
    for category in data["categories"]:
        by_name.setdefault(category["name"], category)
    cat_map = {}
    for category in b.categories:
        mine = by_name.get(category["name"])
        if mine is None:
            mine = copy.deepcopy(category)
            mine["id"] = cat_ids.claim(category["id"])
            data["categories"].append(mine)
            by_name[mine["name"]] = mine
        elif mine.get("supercategory") != category.get("supercategory"):
            warnings.append(f"category {category['name']!r}: supercategory "
                            f"{category.get('supercategory')!r} in B, kept {mine.get('supercategory')!r}")
        cat_map[category["id"]] = mine["id"]

    img_ids = _Ids({im["id"] for im in data["images"]}, [im["id"] for im in b.images])
    by_path = {path_key(a.image_root / im["file_name"]): im for im in data["images"]}
    img_map, merged = {}, set()
    for image in b.images:
        path = b.image_root / image["file_name"]
        mine = by_path.get(path_key(path))
        if mine is not None:
            if (mine.get("width"), mine.get("height")) != (image.get("width"), image.get("height")):
                raise DatasetError(
                    f"{b.label}: image {image['file_name']} is also in {a.label} with another size "
                    f"({image.get('width')}x{image.get('height')} vs "
                    f"{mine.get('width')}x{mine.get('height')})")
            merged.add(mine["id"])
        else:
            mine = copy.deepcopy(image)
            mine["id"] = img_ids.claim(image["id"])
            if path_key(a.image_root) != path_key(b.image_root):
                mine["file_name"] = _relative_to(a.image_root, path)
            if mine.get("license") in license_map:
                mine["license"] = license_map[mine["license"]]
            data["images"].append(mine)
            by_path[path_key(path)] = mine
        img_map[image["id"]] = mine["id"]

    ann_ids = _Ids({ann["id"] for ann in data["annotations"]}, [ann["id"] for ann in b.annotations])
    seen = {(ann["image_id"], ann["category_id"], tuple(map(float, ann["bbox"])))
            for ann in data["annotations"] if ann["image_id"] in merged}
    duplicates = 0
    for ann in b.annotations:
        image_id, cat_id = img_map[ann["image_id"]], cat_map[ann["category_id"]]
        if (image_id, cat_id, tuple(map(float, ann["bbox"]))) in seen:
            duplicates += 1
            continue
        new = copy.deepcopy(ann)
        new["id"] = ann_ids.claim(ann["id"])
        new["image_id"], new["category_id"] = image_id, cat_id
        data["annotations"].append(new)

    counts = {"images": len(data["images"]), "annotations": len(data["annotations"]),
              "categories": len(data["categories"]), "images_merged": len(merged),
              "duplicate_boxes_dropped": duplicates, "image_ids_remapped": img_ids.remapped,
              "annotation_ids_remapped": ann_ids.remapped,
              "category_ids_remapped": cat_ids.remapped, "license_ids_remapped": len(license_map)}
    if merged:
        warnings.append(f"{len(merged)} images are in both files: merged into one record each")
    if duplicates:
        warnings.append(f"{duplicates} boxes of B duplicate a box of A on the same image: dropped")
    for kind in ("image", "annotation", "category"):
        if counts[f"{kind}_ids_remapped"]:
            warnings.append(f"{counts[f'{kind}_ids_remapped']} {kind} ids of B were already used "
                            "in A: given fresh ids")
    result = CocoDocument(data, a.image_root, format=a.json_format)
    result.saved_revision = -1  # never saved
    return MergeResult(result, warnings, counts)
