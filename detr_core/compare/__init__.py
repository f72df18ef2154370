"""Model comparison: is B better than A, where, and where did it get worse?

    from detr_core.compare import compare_checkpoints, compare_results, format_summary
    c = compare_checkpoints("before.pth", "after.pth", "val.json")
    print(format_summary(c)); c.counts["broke"]; c.records  # per-object outcomes

Object outcomes (outcomes.py), the summary with a paired bootstrap interval (summary.py) over
pycocotools' own per-image matches (fast_ap.py), and running two checkpoints (run.py).
"""
from .outcomes import ERROR_TYPES, Boxes, image_outcomes
from .run import compare_checkpoints
from .summary import CompareConfig, Comparison, compare_results, format_summary

__all__ = ["Boxes", "CompareConfig", "Comparison", "ERROR_TYPES", "compare_checkpoints",
           "compare_results", "format_summary", "image_outcomes"]
