"""Model comparison: is B better than A, where, and where did it get worse?

    from detr_core.compare import compare_checkpoints, compare_results, format_summary
    c = compare_checkpoints("before.pth", "after.pth", "val.json")
    print(format_summary(c)); c.counts["broke"]; c.records  # per-object outcomes

Object outcomes (outcomes.py), the summary with a paired bootstrap interval (summary.py) over
pycocotools' own per-image matches (fast_ap.py), and running two checkpoints (run.py).
Names are imported on first use: the summary needs no torch, running checkpoints does.
"""
from __future__ import annotations

from ..lazy import lazy_exports

_WHERE = {
    "Boxes": "outcomes",
    "ERROR_TYPES": "outcomes",
    "image_outcomes": "outcomes",
    "compare_checkpoints": "run",
    "CompareConfig": "summary",
    "Comparison": "summary",
    "compare_results": "summary",
    "format_summary": "summary",
}
__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
