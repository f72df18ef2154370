"""COCO instances documents without Qt: load with checks, edit with undo records, save atomically,
split, merge and count. See document.py for the edit/undo contract and io.py for saving."""
from .document import CocoDocument
from .io import DiskChangedError, find_image_root
from .merge import MergeResult, merge_documents
from .split import SplitResult, split_document
from .stats import document_stats
from .validate import LoadReport, validate

__all__ = [
    "CocoDocument", "DiskChangedError", "LoadReport", "MergeResult", "SplitResult",
    "document_stats", "find_image_root", "merge_documents", "split_document", "validate",
]
