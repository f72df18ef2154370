"""Helpers for the document-layer tests: a recording EditNotify and a small document."""
from __future__ import annotations

import copy

from app.document.entries import ImageEntry, ImageList
from detr_core.coco import CocoDocument


class Notes:
    """An EditNotify that keeps what it was told, in order."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.selection: list[int] = []

    def image_edited(self, image_id):
        self.calls.append(("image", image_id))

    def row_changed(self, row):
        self.calls.append(("row", row))

    def categories_edited(self):
        self.calls.append(("categories",))

    def reveal_image(self, image_id):
        self.calls.append(("reveal", image_id))

    def select(self, ids):
        self.selection = list(ids)
        self.calls.append(("select", list(ids)))

    def say(self, text):
        self.calls.append(("say", text))

    def said(self) -> list[str]:
        return [c[1] for c in self.calls if c[0] == "say"]


def make_document(tmp_path, labelled: int = 2, unlisted: int = 1):
    """A document with `labelled` image records (100x80, one "cat" box each on the first) and
    classes cat, dog; plus `unlisted` listed files without a record. Returns (doc, images)."""
    doc = CocoDocument.new(tmp_path, categories=("cat", "dog"))
    entries = []
    for i in range(labelled):
        path = str(tmp_path / f"a{i}.png")
        image_id = doc.add_image(path, 100, 80)
        entries.append(ImageEntry(path, f"a{i}.png", image_id, size=(100, 80)))
    doc.add_annotation(entries[0].image_id, 1, [10, 10, 20, 20])
    for i in range(unlisted):
        path = str(tmp_path / f"b{i}.png")
        entries.append(ImageEntry(path, f"b{i}.png", None, size=(60, 40)))
    return doc, ImageList(doc, entries)


def snapshot(doc) -> dict:
    return copy.deepcopy(doc.to_json())
