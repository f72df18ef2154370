"""The review queue: where the model and the labels disagree, ranked, with a reason per box.

    from detr_core.review import review_labelled, review_unlabelled, ReviewConfig
    queue = review_labelled("model.pth", "annotations.json")      # findings per box, ranked images
    queue.write("findings.json")

Layers: predictions.py (what a query says), findings.py (cleanlab's scores + label checks + DETR
extras, one image), labelled.py / unlabelled.py (generators over images, for a background
worker), queue.py (the ranked queue and findings.json), honesty.py (in- or out-of-sample),
crossfit.py (K fold models, honest scores), loop.py (what the user did with the pre-labels),
inject.py / measure.py (known mistakes and how well a queue finds them). Qt-free.
"""
from .api import review_labelled, review_unlabelled
from .config import ReviewConfig
from .crossfit import iter_crossfit, make_folds, train_fold_models
from .findings import KINDS, Finding, find_issues, matched_queries
from .honesty import Honesty, check_honesty
from .inject import Mistake, inject_mistakes
from .labelled import iter_labelled, score_image
from .labels import ClassMapping, ImageLabels, labels_by_image
from .loop import LoopStats, measure_loop, read_loop_stats, write_loop_stats
from .measure import RankQuality, rank_quality, reason_accuracy
from .predictions import ImagePredictions
from .queue import ImageReview, ReviewQueue
from .unlabelled import iter_unlabelled, spread_near_duplicates, uncertainty_terms

__all__ = [
    "ClassMapping", "Finding", "Honesty", "ImageLabels", "ImagePredictions", "ImageReview", "KINDS",
    "LoopStats", "Mistake", "RankQuality", "ReviewConfig", "ReviewQueue", "check_honesty", "find_issues",
    "inject_mistakes", "iter_crossfit", "iter_labelled", "iter_unlabelled", "labels_by_image", "make_folds",
    "matched_queries", "measure_loop", "rank_quality", "read_loop_stats", "reason_accuracy",
    "review_labelled", "review_unlabelled", "score_image", "spread_near_duplicates", "train_fold_models",
    "uncertainty_terms", "write_loop_stats",
]
