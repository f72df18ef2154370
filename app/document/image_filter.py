"""Which images the list shows: by status (or "error"), by class present, by file name. No Qt.

`ImageFilter.accepts` decides over plain values; `matches` reads them from an ImageList, and only
the ones the filter asks about (a status or the boxes' classes cost a document look-up).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from .entries import ImageList

ERROR = "error"  # status filter value: images that could not be read


@dataclass(frozen=True)
class ImageFilter:
    status: str | None = None  # one of entries.STATUSES, ERROR, or None for any
    category_id: int | None = None  # images with at least one box of this class
    text: str = ""  # case-insensitive part of the file name

    def is_active(self) -> bool:
        return self.status is not None or self.category_id is not None or bool(self.text)

    def accepts(self, name: str, error: str | None, status: str | None = None,
                category_ids: Collection[int] = ()) -> bool:
        """Whether an image passes: its listed `name`, its read `error` (None: none known), its
        `status` and the class ids of its boxes (both only looked at if the filter asks)."""
        if self.text and self.text.lower() not in name.lower():
            return False
        if self.status == ERROR:
            if error is None:
                return False
        elif self.status is not None and status != self.status:
            return False
        return self.category_id is None or self.category_id in category_ids

    def wants_status(self) -> bool:
        return self.status is not None and self.status != ERROR


def matches(image_filter: ImageFilter, images: ImageList, row: int) -> bool:
    """Whether image `row` of `images` passes `image_filter`."""
    if not image_filter.is_active():
        return True
    entry = images[row]
    if image_filter.text and image_filter.text.lower() not in entry.name.lower():
        return False  # the cheap test first: no document look-ups for names that fail
    status = images.status(row) if image_filter.wants_status() else None
    classes = {a["category_id"] for a in images.annotations(row)} if image_filter.category_id is not None else ()
    return image_filter.accepts(entry.name, entry.error, status, classes)
