"""Colours: one per class (stable across sessions, overridable), one per image status."""
from __future__ import annotations

from PySide6.QtGui import QColor

from .document.entries import COLOR_KEY  # a user-chosen colour, on the COCO category record

# Twenty well-separated colours (Sasha Trubetskoy's list); a class gets PALETTE[id % 20].
PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
    "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000",
    "#ffd8b1", "#000075", "#a9a9a9", "#ffe119",
)

STATUS_COLORS = {
    "unlabelled": "#9aa0a6",
    "predicted": "#8e6cd8",
    "edited": "#e8912d",
    "reviewed": "#2f9e5a",
    "error": "#d93025",
}


def category_color(category: dict) -> QColor:
    """The colour boxes of `category` are drawn in."""
    custom = category.get(COLOR_KEY)
    if isinstance(custom, str) and QColor.isValidColorName(custom):
        return QColor(custom)
    return QColor(PALETTE[int(category.get("id", 0)) % len(PALETTE)])


def text_color_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on `background`."""
    luma = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor("#000000") if luma > 150 else QColor("#ffffff")
