"""Splitting a COCO document by image into train and val: stratified so every class with at least
two images lands in both parts, seeded so the same seed gives the same split.

The parts are new, unsaved documents made of deep copies; the input is never changed. They keep
every id and every top-level key (info, licenses, all categories), so merging them back
(merge.py) gives the original up to record order.
"""
from __future__ import annotations

import copy
import random
from collections import Counter, defaultdict
from typing import NamedTuple

from .document import CocoDocument

TRAIN, VAL = "train", "val"


class SplitResult(NamedTuple):
    train: CocoDocument
    val: CocoDocument
    unsatisfied: list[int]  # ids of classes with >= 2 images that could not be put in both parts


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
    part = CocoDocument(data, doc.image_root, json_format=doc.json_format)
    part.saved_revision = -1  # never saved
    return part


def split_document(doc: CocoDocument, val_fraction: float = 0.2, seed: int = 0) -> SplitResult:
    """Split by image into train and val documents (same seed -> same split). Both keep every
    top-level key (info, licenses, all categories) and all ids."""
    train_ids, val_ids, unsatisfied = split_image_ids(doc, val_fraction, seed)
    return SplitResult(_subset(doc, set(train_ids)), _subset(doc, set(val_ids)), unsatisfied)
