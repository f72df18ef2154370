"""What "open this path" means, as plain functions that run on a worker thread (no Qt).

- A folder: every image under it (recursively; jpg, png, bmp, tif, webp), in natural order. If
  it holds `annotations.json` (where Save puts it), that document is loaded, its image root found
  as for a JSON (the folder itself, or its `images/` subfolder...); otherwise a new, empty
  document rooted at the folder.
- One image file: its folder, as above, showing that image first.
- A COCO JSON file: its images (image root found by the document module, or given). When the
  JSON sits inside its own image root (the layout Save creates), the folder's other images are
  listed too, as unlabelled, so a project reopened from its JSON shows the whole folder.

Listing reads no image headers: sizes are known when an image is decoded for display.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from detr_core.coco import CocoDocument
from detr_core.errors import DatasetError
from detr_core.images import is_image_file, list_images

from .entries import ImageEntry

if TYPE_CHECKING:
    from .replay import Extras

DEFAULT_JSON_NAME = "annotations.json"
_DIGITS = re.compile(r"(\d+)")


@dataclass
class OpenResult:
    source: Path  # what the user opened
    document: CocoDocument
    entries: list[ImageEntry]
    root: Path  # image root: file names are relative to it
    target: Path  # where Save writes (the JSON, or <folder>/annotations.json for a new one)
    select_path: str | None = None
    warnings: list[str] = field(default_factory=list)
    images_missing: bool = False  # a JSON none of whose images were found under `root`
    recovered_from: Path | None = None  # the journal, set by app.document.recovery.recover
    recovered_extras: Extras | None = None  # what it carried beyond the COCO object (decisions)


def scan_images(folder: Path) -> list[str]:
    """Every image file under `folder`: detr_core.images.list_images, the rule `detect DIR` uses."""
    return [str(p) for p in list_images(folder)]


def natural_key(name: str) -> list:
    """'img2' before 'img10'."""
    return [int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(name)]


def _relative(path: str, root_prefix: str) -> str:
    return path[len(root_prefix):] if path.startswith(root_prefix) else path


def build_entries(document: CocoDocument, root: Path, folder_files: list[str] | None) -> list[ImageEntry]:
    """The list: the document's images, plus the folder's other image files if given."""
    prefix = os.path.join(str(root), "")
    entries, known = [], set()
    for image in document.images:
        path = os.path.normpath(str(document.image_path(image["id"])))
        known.add(path)
        entries.append(ImageEntry(path, _relative(path, prefix), image["id"]))
    if folder_files is None:
        return entries
    for path in folder_files:
        if path not in known:
            entries.append(ImageEntry(path, _relative(path, prefix)))
    entries.sort(key=lambda e: natural_key(e.name))
    return entries


def open_source(path: str | os.PathLike, image_root: str | os.PathLike | None = None) -> OpenResult:
    """Open an image, a folder or a COCO JSON file. Raises DatasetError / ImageError (one line)."""
    source = Path(os.path.normpath(Path(path).expanduser().absolute()))
    if not source.exists():
        raise DatasetError(f"{source}: no such file or folder")
    select = None
    if source.is_file() and is_image_file(source):
        folder, select = source.parent, os.path.normpath(str(source))
    elif source.is_dir():
        folder = source
    elif source.suffix.lower() == ".json":
        return _open_json(source, image_root)
    else:
        raise DatasetError(f"{source}: not an image, a folder or a COCO .json file")
    files = scan_images(folder)
    json_path = folder / DEFAULT_JSON_NAME
    if json_path.is_file():
        document, report = CocoDocument.load(json_path)  # images beside it, or in images/...
        warnings = list(report.warnings)
    else:
        document, warnings = CocoDocument.new(folder), []
    entries = build_entries(document, folder, files)
    if not entries:
        warnings.append(f"{folder}: no image files (jpg, png, bmp, tif, webp) in this folder")
    target = document.path or json_path
    return OpenResult(source, document, entries, folder, target, select, warnings)


def _open_json(source: Path, image_root) -> OpenResult:
    document, report = CocoDocument.load(source, image_root=image_root)
    root = document.image_root
    inside = source.parent == root
    files = scan_images(root) if inside else None
    entries = build_entries(document, root, files)
    missing = report.counts.get("missing_image_files", 0)
    all_missing = bool(document.images) and missing == len(document.images)
    return OpenResult(source, document, entries, root, source, None, list(report.warnings),
                      images_missing=all_missing)

