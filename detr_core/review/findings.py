"""Per-box findings on one labelled image: cleanlab's object-detection scores (overlooked, badly
located, swapped), plus the label-only checks cleanlab does not make (spurious, conflicting and
duplicate labels) and what DETR gives for free (each query's class entropy, its spread across the
decoder layers, and the query the Hungarian matcher assigns to each label).

Each image is scored on its own (cleanlab's floor similarity is that image's), so a score never
changes when other images join the queue: the queue can fill as results arrive.
"""
from __future__ import annotations

import numpy as np
import torch
from cleanlab.internal.constants import ALPHA
from cleanlab.object_detection.rank import (_get_valid_inputs_for_compute_scores_per_image,
                                            compute_badloc_box_scores, compute_overlooked_box_scores,
                                            compute_swap_box_scores, pool_box_scores_per_image)

from ..model.matcher import HungarianMatcher
from .boxes import iou_matrix, xyxy_to_cxcywh_normalised
from .config import ReviewConfig
from .finding import KINDS, Finding  # noqa: F401 (KINDS is part of this module's names)
from .labels import ImageLabels
from .predictions import ImagePredictions

def _box(b) -> tuple[float, float, float, float]:
    return tuple(round(float(v), 2) for v in b)


def matched_queries(labels: ImageLabels, preds: ImagePredictions) -> np.ndarray:
    """[L] the query the Hungarian matcher (the training costs) assigns to each label; -1 for a
    label whose class the model does not have."""
    out = np.full(len(labels), -1, dtype=np.int64)
    known = np.nonzero(labels.known)[0]
    if len(known) == 0:
        return out
    width, height = preds.image_size
    logits = torch.from_numpy(np.log(np.clip(preds.probs, 1e-12, 1.0))).float()[None]  # [1, Q, K+1]
    outputs = {"pred_logits": logits, "pred_boxes": torch.from_numpy(preds.boxes_cxcywh).float()[None]}
    target = {"labels": torch.from_numpy(labels.classes[known]),
              "boxes": torch.from_numpy(xyxy_to_cxcywh_normalised(labels.boxes_xyxy[known], width, height)).float()}
    rows, cols = HungarianMatcher()(outputs, [target])[0]
    out[known[cols.numpy()]] = rows.numpy()
    return out


class _Queries:
    """Per-query DETR extras of one image, attached to findings."""

    def __init__(self, preds: ImagePredictions, class_names: list[str]):
        self.preds = preds
        self.names = list(class_names) + ["no object"]
        self.entropy = preds.entropy()
        self.class_spread = preds.layer_class_spread()
        self.box_spread = preds.layer_box_spread()
        self.has_layers = preds.layer_probs is not None

    def about(self, q: int | None) -> dict:
        if q is None or q < 0:
            return {}
        p = self.preds.probs[q]
        top = tuple((self.names[i], round(float(p[i]), 4)) for i in np.argsort(-p)[:3])
        extras = {"query": int(q), "query_entropy": float(self.entropy[q]), "top_classes": top}
        if self.has_layers:
            extras.update(layer_class_spread=float(self.class_spread[q]), layer_box_spread=float(self.box_spread[q]))
        return extras


def find_issues(labels: ImageLabels, preds: ImagePredictions, class_names: list[str],
                cfg: ReviewConfig = ReviewConfig(), classes: frozenset[int] | None = None
                ) -> tuple[list[Finding], float]:
    """(findings, image quality in 0..1: 1 = labels look right). `class_names` [K]: the model's.
    `classes`: the model classes mapped to the file's categories (None: all); predictions of the
    others claim nothing (no missing box, no class swap).
    Quality: cleanlab's per-type softmin pooling of the box scores, then their geometric mean."""
    known = np.nonzero(labels.known)[0]
    per_class, row_query = preds.to_cleanlab(cfg.min_score, cfg.merge_iou, classes)
    lab = {"bboxes": labels.boxes_xyxy[known].astype(np.float64).reshape(-1, 4), "labels": labels.classes[known]}
    # cleanlab floors its scores at the smallest box similarity of the whole data set; a fixed
    # floor keeps each image's scores its own (an image's own minimum can be large: one object).
    aux = [_get_valid_inputs_for_compute_scores_per_image(ALPHA, label=lab, prediction=per_class,
                                                          min_possible_similarity=cfg.similarity_floor)]
    # cleanlab counts any overlap (IoU > 0) as "on that label": a prediction of an unlabelled
    # object touching a labelled neighbour could never be missing. Overlaps below touch_iou don't
    # count (badloc reads this matrix; overlooked recomputes it, so _touching_overlooked fills in).
    touching = aux[0]["iou_matrix"]  # [L_known, M]
    aux[0]["iou_matrix"] = np.where(touching >= cfg.touch_iou, touching, 0.0)
    overlooked = compute_overlooked_box_scores(alpha=ALPHA, high_probability_threshold=cfg.confident,
                                               auxiliary_inputs=aux)[0]  # [M]
    badloc = compute_badloc_box_scores(alpha=ALPHA, low_probability_threshold=cfg.usable,
                                       auxiliary_inputs=aux)[0]  # [L_known]
    swap = compute_swap_box_scores(alpha=ALPHA, high_probability_threshold=cfg.confident,
                                   auxiliary_inputs=aux)[0]  # [L_known]
    overlooked = _touching_overlooked(overlooked, touching, aux[0], cfg)
    pooled = [float(pool_box_scores_per_image([s])[0]) for s in (overlooked, badloc, swap)]
    quality = float(np.exp(np.mean(np.log(1e-6 + np.array(pooled)))))

    queries = _Queries(preds, class_names)
    matched = matched_queries(labels, preds)
    names = preds.labels
    allowed = np.ones(len(names), bool) if classes is None else np.isin(names, sorted(classes))
    ious = iou_matrix(labels.boxes_xyxy, preds.boxes_xyxy)  # [L, Q]
    findings = _label_pair_findings(labels, class_names, cfg)
    paired = {f.annotation_id for f in findings}
    for j, i in enumerate(known):
        k = int(labels.classes[i])
        base = dict(annotation_id=int(labels.annotation_ids[i]), label_box=_box(labels.boxes_xyxy[i]),
                    label_class=class_names[k])
        extras = queries.about(int(matched[i]))
        if swap[j] < cfg.swap_max_quality and base["annotation_id"] not in paired:
            # the fix: the other-class query on this box (cleanlab saw duplicates merged, so a
            # query itself may be below `confident`; it must be usable and on the box)
            other = np.nonzero((names != k) & allowed & (preds.scores > cfg.usable) & (ious[i] >= cfg.touch_iou))[0]
            if len(other):
                q = int(other[np.argmax(ious[i, other])])
                model_class = class_names[int(names[q])]
                findings.append(Finding("wrong_class", f"class swap? model says {model_class} {preds.scores[q]:.2f}",
                                        1.0 - float(swap[j]), **base, model_box=_box(preds.boxes_xyxy[q]),
                                        model_class=model_class, model_score=float(preds.scores[q]),
                                        iou=float(ious[i, q]), **(extras or queries.about(q))))
        if badloc[j] < cfg.badloc_max_quality:
            same = np.nonzero((names == k) & (preds.scores > cfg.usable) & (ious[i] >= cfg.badloc_min_iou))[0]
            if len(same):
                q = int(same[np.argmax(ious[i, same])])
                findings.append(Finding("badly_placed", f"edges off: best prediction IoU {ious[i, q]:.2f}",
                                        1.0 - float(badloc[j]), **base, model_box=_box(preds.boxes_xyxy[q]),
                                        model_class=class_names[k], model_score=float(preds.scores[q]),
                                        iou=float(ious[i, q]), **(extras or queries.about(q))))
        near = ious[i] >= cfg.spurious_min_iou
        support = float(preds.objectness[near].max()) if near.any() else 0.0
        if support < cfg.spurious_max_support:
            findings.append(Finding("spurious", f"no prediction near it (best objectness {support:.2f})",
                                    1.0 - support, **base, **extras))
    findings += _missing(labels, preds, overlooked, row_query, class_names, cfg, queries)
    findings.sort(key=lambda f: -f.score)
    return findings, quality


def _touching_overlooked(overlooked: np.ndarray, touching: np.ndarray, aux: dict,
                         cfg: ReviewConfig) -> np.ndarray:
    """cleanlab's overlooked score, by its own rule, for the confident predictions it skipped
    only because they touch a label at IoU below touch_iou: the similarity to the closest label
    of their class, or floor x (1 - p) when there is none."""
    out = overlooked.copy()
    sim, lab_k = aux["similarity_matrix"], aux["lab_labels"]  # [L, M], [L]
    pred_k, pred_p = aux["pred_labels"], aux["pred_label_probs"]  # [M], [M]
    for m in range(len(out)):
        if np.isnan(out[m]) and pred_p[m] >= cfg.confident and touching[:, m].max(initial=0.0) < cfg.touch_iou:
            same = sim[lab_k == pred_k[m], m]
            out[m] = same.max() if len(same) else cfg.similarity_floor * (1.0 - pred_p[m])
    return out


def _missing(labels: ImageLabels, preds: ImagePredictions, overlooked: np.ndarray, row_query: np.ndarray,
             class_names: list[str], cfg: ReviewConfig, queries: _Queries) -> list[Finding]:
    """One "missing" finding per object: overlapping candidates keep the most certain."""
    rows = [r for r in np.argsort(overlooked) if np.isfinite(overlooked[r]) and overlooked[r] < cfg.missing_max_quality]
    unknown_boxes = labels.boxes_xyxy[~labels.known]
    kept: list[int] = []
    out = []
    for r in rows:
        q = int(row_query[r])
        box = preds.boxes_xyxy[q]
        if len(unknown_boxes) and iou_matrix(box[None], unknown_boxes).max() > 0:
            continue  # on a box of a class the model does not know
        if kept and iou_matrix(box[None], preds.boxes_xyxy[kept]).max() > cfg.duplicate_suppress_iou:
            continue
        kept.append(q)
        name = class_names[int(preds.labels[q])]
        out.append(Finding("missing", f"model sees {name} {preds.scores[q]:.2f} here; no box",
                           1.0 - float(overlooked[r]), model_box=_box(box), model_class=name,
                           model_score=float(preds.scores[q]), **queries.about(q)))
    return out


def _label_pair_findings(labels: ImageLabels, class_names: list[str], cfg: ReviewConfig) -> list[Finding]:
    """Two labels at IoU >= conflict_iou: "conflict" (different categories) or "duplicate"."""
    ious = iou_matrix(labels.boxes_xyxy, labels.boxes_xyxy)
    out = []
    for a in range(len(labels)):
        for b in range(a + 1, len(labels)):
            if ious[a, b] < cfg.conflict_iou:
                continue
            same = labels.category_ids[a] == labels.category_ids[b]
            kind = "duplicate" if same else "conflict"
            name = lambda i: class_names[labels.classes[i]] if labels.known[i] else f"category {labels.category_ids[i]}"
            reason = (f"two {name(a)} boxes on one object (IoU {ious[a, b]:.2f})" if same else
                      f"conflicting labels: {name(a)} and {name(b)} at IoU {ious[a, b]:.2f}")
            for i, j in ((b, a), (a, b)):  # the later box first: the likelier copy
                out.append(Finding(kind, reason, float(ious[a, b]) * (1.0 if i == b else 0.9),
                                   annotation_id=int(labels.annotation_ids[i]), label_box=_box(labels.boxes_xyxy[i]),
                                   label_class=name(i), other_annotation_id=int(labels.annotation_ids[j]),
                                   iou=float(ious[a, b])))
    return out
