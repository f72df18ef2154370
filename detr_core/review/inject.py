"""Known mistakes injected into a clean COCO dict: the ground truth a review queue is measured
against (tests and tests/benchmarks/bench_review.py).

Kinds and the finding that should name each:
    removed     a box deleted                       -> "missing" (the model's box on it)
    swapped     a box given another category        -> "wrong_class" on that box
    shifted     a box moved by 30-40 % of its size  -> "badly_placed" on that box
    duplicated  a box copied (IoU >= 0.95), same or
                another category                    -> "duplicate" / "conflict" on the copy
    spurious    a box added on empty background     -> "spurious" on that box
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .boxes import iou_matrix

KINDS = ("removed", "swapped", "shifted", "duplicated")
EXPECTED = {"removed": ("missing",), "swapped": ("wrong_class",), "shifted": ("badly_placed",),
            "duplicated": ("duplicate", "conflict"), "spurious": ("spurious",)}


@dataclass(frozen=True)
class Mistake:
    kind: str
    image_id: int
    annotation_id: int | None  # the box it changed or added (None: removed)
    box_xyxy: tuple[float, float, float, float]  # where it is, pixels (removed: the box that was)


def _xyxy(bbox) -> tuple[float, float, float, float]:
    x, y, w, h = bbox
    return (x, y, x + w, y + h)


def inject_mistakes(coco: dict, *, fraction: float = 0.1, seed: int = 0,
                    kinds: tuple[str, ...] = KINDS) -> tuple[dict, list[Mistake]]:
    """A copy of `coco` with one mistake in `fraction` of its images (those with a box), kinds in
    turn, and the list of mistakes. Deterministic in `seed`."""
    out = copy.deepcopy(coco)
    rng = np.random.default_rng(seed)
    anns_of: dict[int, list[dict]] = {}
    for a in out["annotations"]:
        anns_of.setdefault(int(a["image_id"]), []).append(a)
    sizes = {int(im["id"]): (im["width"], im["height"]) for im in out["images"]}
    candidates = [i for i in sizes if anns_of.get(i)]
    chosen = rng.choice(candidates, size=max(1, round(fraction * len(sizes))), replace=False)
    category_ids = sorted(int(c["id"]) for c in out["categories"])
    next_id = max((int(a["id"]) for a in out["annotations"]), default=0) + 1
    mistakes, removed = [], set()
    for n, image_id in enumerate(sorted(int(i) for i in chosen)):
        kind = kinds[n % len(kinds)]
        anns = anns_of[image_id]
        a = anns[int(rng.integers(len(anns)))]
        width, height = sizes[image_id]
        if kind == "removed":
            removed.add(id(a))
            mistakes.append(Mistake(kind, image_id, None, _xyxy(a["bbox"])))
        elif kind == "swapped":
            a["category_id"] = int(rng.choice([c for c in category_ids if c != a["category_id"]]))
            mistakes.append(Mistake(kind, image_id, int(a["id"]), _xyxy(a["bbox"])))
        elif kind == "shifted":
            x, y, w, h = a["bbox"]
            dx, dy = rng.choice([-1, 1], 2) * rng.uniform(0.3, 0.4, 2) * np.array([w, h])
            along = rng.integers(3)  # shift in x, in y, or both (by less)
            dx, dy = (dx, 0.0) if along == 0 else (0.0, dy) if along == 1 else (dx * 0.7, dy * 0.7)
            x, y = float(np.clip(x + dx, 0, width - w)), float(np.clip(y + dy, 0, height - h))
            a["bbox"] = [round(x, 2), round(y, 2), w, h]
            mistakes.append(Mistake(kind, image_id, int(a["id"]), _xyxy(a["bbox"])))
        elif kind in ("duplicated", "spurious"):
            new = dict(a, id=next_id)
            next_id += 1
            if kind == "duplicated":
                x, y, w, h = a["bbox"]
                new["bbox"] = [round(x + 0.005 * w, 2), round(y - 0.005 * h, 2), w, h]
                if n % 2:
                    new["category_id"] = int(rng.choice([c for c in category_ids if c != a["category_id"]]))
            else:
                new["bbox"] = _empty_spot(anns, width, height, rng)
            new["area"] = round(new["bbox"][2] * new["bbox"][3], 2)
            out["annotations"].append(new)
            mistakes.append(Mistake(kind, image_id, int(new["id"]), _xyxy(new["bbox"])))
        else:
            raise ValueError(f"unknown mistake kind {kind!r}; known: {', '.join(EXPECTED)}")
    out["annotations"] = [a for a in out["annotations"] if id(a) not in removed]
    return out, mistakes


def _empty_spot(anns: list[dict], width: int, height: int, rng: np.random.Generator) -> list[float]:
    """A box [x, y, w, h] a fifth of the shorter side wide that touches no existing box."""
    side = 0.2 * min(width, height)
    boxes = np.array([_xyxy(a["bbox"]) for a in anns]).reshape(-1, 4)
    for _ in range(200):
        x, y = rng.uniform(0, width - side), rng.uniform(0, height - side)
        if not len(boxes) or iou_matrix(np.array([[x, y, x + side, y + side]]), boxes).max() == 0:
            break
    return [round(float(x), 2), round(float(y), 2), round(side, 2), round(side, 2)]
