"""How good a ranked queue is against known mistakes (inject.py): the share of mistakes whose
image is in the top x % of the queue (recall), the share of those top images holding a mistake
(precision), and whether the queue names each mistake with the right kind of reason."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import iou_matrix
from .finding import Finding
from .inject import EXPECTED, Mistake
from .queue import ImageReview


@dataclass(frozen=True)
class RankQuality:
    fraction: float  # of the images, from the top
    images: int  # how many that is
    precision: float  # top images that hold a mistake
    recall: float  # mistakes whose image is among them


def finding_for(mistake: Mistake, findings: list[Finding]) -> Finding | None:
    """The queue's most certain finding about this mistake's box, if any: for a changed or added
    box, one on that annotation (or naming it as the other of a pair); for a removed box, a
    "missing" finding whose box overlaps it (IoU >= 0.5)."""
    about = []
    for f in findings:
        if mistake.annotation_id is not None:
            if mistake.annotation_id in (f.annotation_id, f.other_annotation_id):
                about.append(f)
        elif f.model_box is not None and f.annotation_id is None:
            if iou_matrix(np.array([f.model_box]), np.array([mistake.box_xyxy]))[0, 0] >= 0.5:
                about.append(f)
    return max(about, key=lambda f: f.score) if about else None


def rank_quality(ranked: list[ImageReview], mistakes: list[Mistake],
                 fractions: tuple[float, ...] = (0.1, 0.2, 0.5)) -> list[RankQuality]:
    position = {r.image_id: i for i, r in enumerate(ranked)}
    with_mistake = {m.image_id for m in mistakes}
    out = []
    for fraction in fractions:
        n = max(1, int(round(fraction * len(ranked))))
        top = {r.image_id for r in ranked[:n]}
        found = sum(position.get(m.image_id, len(ranked)) < n for m in mistakes)
        out.append(RankQuality(fraction, n, len(top & with_mistake) / n, found / max(1, len(mistakes))))
    return out


def reason_accuracy(ranked: list[ImageReview], mistakes: list[Mistake]) -> dict[str, tuple[int, int]]:
    """kind -> (mistakes whose most certain finding has an expected kind, mistakes of that kind)."""
    by_image = {r.image_id: r for r in ranked}
    out: dict[str, tuple[int, int]] = {}
    for m in mistakes:
        review = by_image.get(m.image_id)
        f = finding_for(m, review.findings) if review else None
        right, total = out.get(m.kind, (0, 0))
        out[m.kind] = (right + int(f is not None and f.kind in EXPECTED[m.kind]), total + 1)
    return out
