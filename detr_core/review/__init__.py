"""The review queue: where the model and the labels disagree, ranked, with a reason per box.

    from detr_core.review import review_labelled, review_unlabelled, ReviewConfig
    queue = review_labelled("model.pth", "annotations.json")      # findings per box, ranked images
    queue.write("findings.json")

Layers: predictions.py (what a query says), finding.py (one finding), findings.py (cleanlab's scores + label checks + DETR
extras, one image), labelled.py / unlabelled.py (generators over images, for a background
worker), queue.py (the ranked queue and findings.json), honesty.py (in- or out-of-sample),
crossfit.py (K fold models, honest scores), loop.py (what the user did with the pre-labels),
inject.py / measure.py (known mistakes and how well a queue finds them). Qt-free.

Names are imported on first use (cleanlab, which findings.py needs, takes a while to import).
"""
from __future__ import annotations

from ..lazy import lazy_exports

_WHERE = {
    "review_labelled": "api",
    "review_unlabelled": "api",
    "ReviewConfig": "config",
    "iter_crossfit": "crossfit",
    "make_folds": "crossfit",
    "train_fold_models": "crossfit",
    "KINDS": "finding",
    "Finding": "finding",
    "find_issues": "findings",
    "matched_queries": "findings",
    "QueryExplanation": "explanation",
    "explain": "explanation",
    "Honesty": "honesty",
    "check_honesty": "honesty",
    "Mistake": "inject",
    "inject_mistakes": "inject",
    "iter_labelled": "labelled",
    "score_image": "labelled",
    "ClassMapping": "labels",
    "ImageLabels": "labels",
    "labels_by_image": "labels",
    "LoopStats": "loop",
    "measure_loop": "loop",
    "read_loop_stats": "loop",
    "write_loop_stats": "loop",
    "RankQuality": "measure",
    "rank_quality": "measure",
    "reason_accuracy": "measure",
    "ImagePredictions": "predictions",
    "ImageReview": "queue",
    "ReviewQueue": "queue",
    "iter_unlabelled": "unlabelled",
    "spread_near_duplicates": "unlabelled",
    "uncertainty_terms": "unlabelled",
}
__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
