"""Ranking unlabelled images by how unsure the model is, with near-duplicates spread out.

Terms (each 0..1, higher = less sure), taken over the image's queries, each query weighted by its
objectness (1 - p(no object)) so background queries do not count:
    margin    max over queries of objectness x (1 - top-1 + top-2 probability)
    entropy   max over queries of objectness x normalised entropy of its class distribution
    layers    max over queries of objectness x disagreement across the decoder layers (class
              distribution total variation, plus the box's normalised L1 spread, capped at 1)
    previous  1 - F1 between the previous model's and this model's detections (score >=
              detect_score, same class, IoU >= 0.5), when a previous model is given
The score is their weighted mean (ReviewConfig weight_*), over the terms available.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .boxes import iou_matrix
from .config import ReviewConfig
from .predictions import ImagePredictions
from .queue import ImageReview
from .scan import Progress, ShouldStop, phash_distance, scan


def uncertainty_terms(preds: ImagePredictions, previous: ImagePredictions | None = None,
                      cfg: ReviewConfig = ReviewConfig()) -> dict[str, float]:
    w = preds.objectness  # [Q]
    terms = {"margin": float((w * (1.0 - preds.margin())).max(initial=0.0)),
             "entropy": float((w * preds.entropy()).max(initial=0.0))}
    if preds.layer_probs is not None:
        spread = np.minimum(1.0, preds.layer_class_spread() + preds.layer_box_spread())
        terms["layers"] = float((w * spread).max(initial=0.0))
    if previous is not None:
        terms["previous"] = detection_disagreement(previous, preds, cfg.detect_score)
    return terms


def detection_disagreement(a: ImagePredictions, b: ImagePredictions, threshold: float) -> float:
    """1 - F1 of greedy one-to-one matching (same class, IoU >= 0.5) of two models' detections
    above `threshold`; 0 when neither detects anything."""
    qa = np.nonzero(a.scores >= threshold)[0]
    qb = np.nonzero(b.scores >= threshold)[0]
    if len(qa) + len(qb) == 0:
        return 0.0
    ious = iou_matrix(a.boxes_xyxy[qa], b.boxes_xyxy[qb])  # [A, B]
    ious[a.labels[qa][:, None] != b.labels[qb][None, :]] = 0.0
    matched = 0
    while ious.size and ious.max() >= 0.5:
        i, j = np.unravel_index(np.argmax(ious), ious.shape)
        ious[i, :] = 0.0
        ious[:, j] = 0.0
        matched += 1
    return 1.0 - 2.0 * matched / (len(qa) + len(qb))


def combined_score(terms: dict[str, float], cfg: ReviewConfig) -> float:
    weights = {"margin": cfg.weight_margin, "entropy": cfg.weight_entropy, "layers": cfg.weight_layers,
               "previous": cfg.weight_previous}
    total = sum(weights[k] for k in terms)
    return sum(weights[k] * v for k, v in terms.items()) / total if total > 0 else 0.0


def spread_near_duplicates(reviews: list[ImageReview], bits: int) -> list[ImageReview]:
    """Highest score first, but an image within `bits` (perceptual-hash Hamming distance) of a
    higher-ranked one waits for the next round: first every group's best, then every group's
    second, and so on. Sets `near_duplicate_of` to its group's best."""
    order = sorted(reviews, key=lambda r: -r.score)
    leaders: list[ImageReview] = []
    members: dict[int, int] = {}  # id(leader) -> images in its group so far
    depth: dict[int, int] = {}  # id(image) -> its place in its group (0 = the group's best)
    for r in order:
        leader = None
        if r.phash is not None:
            leader = next((l for l in leaders if phash_distance(l.phash, r.phash) <= bits), None)
        if leader is None:
            if r.phash is not None:
                leaders.append(r)
            members[id(r)] = 1
            depth[id(r)] = 0
            r.near_duplicate_of = None
        else:
            depth[id(r)] = members[id(leader)]
            members[id(leader)] += 1
            r.near_duplicate_of = leader.file_name
    rank = {id(r): i for i, r in enumerate(order)}
    return sorted(order, key=lambda r: (depth[id(r)], rank[id(r)]))


def iter_unlabelled(detector, paths: Sequence[str | Path], cfg: ReviewConfig = ReviewConfig(), *,
                    previous=None, root: str | Path | None = None, batch_size: int = 4,
                    on_progress: Progress | None = None,
                    should_stop: ShouldStop | None = None) -> Iterator[ImageReview]:
    """Yield each image's uncertainty review in order, as results arrive. `previous`: the
    previous model's Detector (same classes), for the disagreement term; file names are relative
    to `root` when given."""
    paths = [Path(p) for p in paths]
    before = scan(previous, paths, batch_size=batch_size) if previous is not None else None
    for item in scan(detector, paths, batch_size=batch_size, hashes=True, on_progress=on_progress,
                     should_stop=should_stop):
        old = next(before) if before is not None else None
        name = item.path.relative_to(root).as_posix() if root is not None else item.path.as_posix()
        if item.predictions is None:
            yield ImageReview(name, float("nan"), status="failed", error=item.error)
            continue
        terms = uncertainty_terms(item.predictions, old.predictions if old is not None else None, cfg)
        yield ImageReview(name, combined_score(terms, cfg), uncertainty=terms, phash=item.phash)
