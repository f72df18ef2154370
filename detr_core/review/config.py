"""Every threshold of the review queue, with its default: one frozen dataclass the GUI shows as
settings and the CLI fills from its options.

The cleanlab defaults (0.95 for "confident", 0.5 for "usable") assume a calibrated model; the
bundled demo model's confident detections sit around 0.85-0.97, so "confident" defaults to 0.8
(tests/benchmarks/bench_review.py measures the ranking at these defaults).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class ReviewConfig:
    min_score: float = 0.05  # every query at or above this class score is given to cleanlab
    confident: float = 0.8  # a prediction this sure can claim a missing box or a class swap
    usable: float = 0.5  # a same-class prediction this sure can say a box is badly placed
    merge_iou: float = 0.7  # same-class queries this close are one object (0: off); see predictions
    similarity_floor: float = 1e-3  # cleanlab's lowest box similarity (its data-set minimum)
    touch_iou: float = 0.2  # a prediction overlapping a label less than this is not on it
    missing_max_quality: float = 0.5  # cleanlab overlooked score below this: "missing" finding
    badloc_max_quality: float = 0.75  # cleanlab badloc score below this: "badly placed" finding
    badloc_min_iou: float = 0.2  # below this the prediction is about another object, not this box
    swap_max_quality: float = 0.5  # cleanlab swap score below this: "wrong class" finding
    spurious_max_support: float = 0.15  # best objectness of a query overlapping the box below this
    spurious_min_iou: float = 0.3  # a query "overlaps" a box from this IoU on (spurious check)
    conflict_iou: float = 0.95  # two labels at this IoU: conflicting (other class) or duplicate
    duplicate_suppress_iou: float = 0.5  # one "missing" finding per object among overlapping ones
    # Unlabelled ranking: weights of the uncertainty terms (normalised over those available).
    weight_margin: float = 1.0
    weight_entropy: float = 1.0
    weight_layers: float = 1.0
    weight_previous: float = 1.0
    detect_score: float = 0.5  # a "detection" when comparing the previous and current model
    near_duplicate_bits: int = 6  # perceptual hashes this close (of 64 bits): near-duplicates

    def replace(self, **changes) -> "ReviewConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ReviewConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
