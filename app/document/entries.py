"""The list of images the workbench is working on, and each image's status. No Qt.

Per-image status (unlabelled / predicted / edited / reviewed) is workbench state kept in the
COCO file itself, as the key "workbench_status" on the image record: unknown keys survive a
load/save, other tools ignore them, and the training loader can read it (e.g. to skip images that
are not labelled yet). An image without the key is "edited" when it has boxes (labelled, not yet
reviewed here) and "unlabelled" otherwise. An image of a folder gets its COCO record with its
first edit or mark (in the same undo step), so the saved file lists exactly the images that were
worked on, and undoing everything gives back the document as it was.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

STATUSES = ("unlabelled", "predicted", "edited", "reviewed")
STATUS_KEY = "workbench_status"  # on a COCO image record
# A user-chosen class colour is stored on the COCO category record under this key ("#rrggbb"),
# so it travels with the dataset; other tools ignore unknown keys.
COLOR_KEY = "workbench_color"


@dataclass
class ImageEntry:
    path: str  # absolute path of the file
    name: str  # as listed: relative to the opened folder or image root
    image_id: int | None = None  # the COCO image id, once the document has a record
    size: tuple[int, int] | None = None  # (width, height) after EXIF orientation, once decoded
    error: str | None = None  # why it cannot be shown, once known
    review_score: float | None = None  # the review queue's score (0..1, higher: look first); None: not reviewed


class ImageList:
    """The listed images of one document, in list order (a "row" is a position here), with the
    row of each COCO image id and of each path, and each image's status.

    `document` is a detr_core.coco.CocoDocument, or None (nothing open: no rows)."""

    def __init__(self, document=None, entries: list[ImageEntry] | None = None):
        self.document = document
        self.entries: list[ImageEntry] = entries if entries is not None else []  # kept, not copied
        self._row_of_image = {e.image_id: i for i, e in enumerate(self.entries) if e.image_id is not None}
        self._row_of_path = {e.path: i for i, e in enumerate(self.entries)}

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, row: int) -> ImageEntry:
        return self.entries[row]

    def __iter__(self) -> Iterator[ImageEntry]:
        return iter(self.entries)

    def has_row(self, row: int) -> bool:
        return 0 <= row < len(self.entries)

    def row_of_path(self, path: str) -> int | None:
        return self._row_of_path.get(path)

    def row_of_image(self, image_id: int) -> int | None:
        return self._row_of_image.get(image_id)

    def attach_image_id(self, row: int, image_id: int | None) -> None:
        """Record that `row` now has (or no longer has) a COCO image record."""
        entry = self.entries[row]
        if entry.image_id is not None:
            self._row_of_image.pop(entry.image_id, None)
        entry.image_id = image_id
        if image_id is not None:
            self._row_of_image[image_id] = row

    def annotations(self, row: int) -> list[dict]:
        """The COCO annotation dicts of image `row` ([] before it has a record)."""
        image_id = self.entries[row].image_id
        if image_id is None or self.document is None:
            return []
        return self.document.annotations_for(image_id)

    # -- the review queue's scores ----------------------------------------------------------------
    def set_review_score(self, row: int, score: float | None) -> None:
        """The review queue scored image `row` (None: not reviewed); the list's Review column."""
        self.entries[row].review_score = score

    def clear_review_scores(self) -> list[int]:
        """A new review starts: every score forgotten. Returns the rows that had one."""
        rows = [r for r, e in enumerate(self.entries) if e.review_score is not None]
        for r in rows:
            self.entries[r].review_score = None
        return rows

    # -- status -----------------------------------------------------------------------------------
    def raw_status(self, image_id: int) -> str | None:
        """The stored status of an image record (None: not stored)."""
        return self.document.image(image_id).get(STATUS_KEY)

    def set_raw_status(self, image_id: int, status: str | None) -> None:
        """Store (None: remove) an image's status: a document edit, so it is journalled too."""
        self.document.set_image_field(image_id, STATUS_KEY, status)

    def status(self, row: int) -> str:
        """One of STATUSES: stored, or derived from the boxes (see the module docstring)."""
        entry = self.entries[row]
        if entry.image_id is None:
            return "unlabelled"
        stored = self.raw_status(entry.image_id)
        if stored in STATUSES:
            return stored
        return "edited" if self.document.annotations_for(entry.image_id) else "unlabelled"


def size_mismatch(entry: ImageEntry, document) -> str | None:
    """A one-line note when the decoded size of `entry` differs from its COCO record's, or None."""
    if entry.image_id is None or entry.size is None:
        return None
    record = document.image(entry.image_id)
    recorded = (record.get("width"), record.get("height"))
    if recorded == entry.size or None in recorded:
        return None
    return (f"{entry.name}: the file is {entry.size[0]}x{entry.size[1]} (EXIF orientation applied), "
            f"the COCO record says {recorded[0]}x{recorded[1]}")
