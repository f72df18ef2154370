"""Lookup tables over a COCO object: records by id, annotations per image (in file order), categories
by name and images by path. The tables hold the document's own dicts, never copies."""
from __future__ import annotations

import os
from pathlib import Path


def path_key(path) -> str:
    """Absolute, normalised path for comparisons (no file-system access)."""
    return os.path.normcase(os.path.abspath(os.fspath(path)))


def real_key(path) -> str:
    """Like path_key, with symbolic links resolved (touches the file system)."""
    return os.path.normcase(os.path.realpath(os.fspath(path)))


class CocoIndex:
    """O(1) lookups kept in step with edits by CocoDocument; `rebuild()` after bulk changes."""

    def __init__(self, data: dict):
        self.rebuild(data)

    def rebuild(self, data: dict) -> None:
        self.images: dict[int, dict] = {im["id"]: im for im in data["images"]}
        self.annotations: dict[int, dict] = {a["id"]: a for a in data["annotations"]}
        self.categories: dict[int, dict] = {c["id"]: c for c in data["categories"]}
        self.by_image: dict[int, list[dict]] = {image_id: [] for image_id in self.images}
        for ann in data["annotations"]:
            self.by_image[ann["image_id"]].append(ann)
        self.rebuild_names(data)
        self.forget_paths()

    def rebuild_names(self, data: dict) -> None:
        self.by_name: dict[str, dict] = {}
        for category in data["categories"]:
            self.by_name.setdefault(category["name"], category)

    # --- images by path: built on first use, dropped when images or the root change ---

    def forget_paths(self) -> None:
        self._paths: dict[str, int] | None = None
        self._real_paths: dict[str, int] | None = None

    def find_path(self, path, image_root: Path, images: list[dict]) -> int | None:
        if self._paths is None:
            self._paths = {}
            for image in images:
                self._paths.setdefault(path_key(image_root / image["file_name"]), image["id"])
        found = self._paths.get(path_key(path))
        if found is not None:
            return found
        if self._real_paths is None:  # slower: resolve symbolic links on both sides
            self._real_paths = {}
            for image in images:
                self._real_paths.setdefault(real_key(image_root / image["file_name"]), image["id"])
        return self._real_paths.get(real_key(path))

    def add_path(self, image: dict, image_root: Path) -> None:
        if self._paths is not None:
            self._paths.setdefault(path_key(image_root / image["file_name"]), image["id"])
        self._real_paths = None
