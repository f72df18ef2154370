"""Checking a parsed COCO instances object: what is refused, what is fixed with a warning.

`validate(data)` never changes `data`: it returns a `LoadReport` (problems = refused, warnings =
kept or fixed) and the records that `apply_fixes` may repair. Refused: anything a consumer would
misread (a string id, a box that is not 4 numbers, an annotation pointing nowhere, a duplicate id).
Fixed with a warning: things with one obvious answer (missing `area` = w*h, missing `iscrowd` = 0,
missing image width/height read from the image header). Kept with a warning: zero-size boxes,
boxes outside their image, duplicate category names or file names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ImageError
from ..images import image_size

REQUIRED_LISTS = ("images", "annotations", "categories")
OUTSIDE_TOLERANCE = 1.0  # pixels a box may stick out of its image before it is counted as outside


@dataclass
class LoadReport:
    """What loading found. `problems` refuse the file; `warnings` (with counts) do not, except
    under strict loading, where every warning is also a problem."""
    path: Path | None = None
    image_root: Path | None = None
    image_root_reason: str = ""
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # images, annotations, categories, fixes

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem_line(self, shown: int = 3) -> str:
        """'PATH: N problems: first; second; third (and K more)' — one line for an error."""
        n = len(self.problems)
        head = "; ".join(self.problems[:shown])
        more = f" (and {n - shown} more)" if n > shown else ""
        return f"{self.path or '(document)'}: {n} problem{'s' if n != 1 else ''}: {head}{more}"


@dataclass
class Fixes:
    """Records `apply_fixes` may repair (the original dicts, so fixes land in place)."""
    missing_area: list[dict] = field(default_factory=list)
    missing_iscrowd: list[dict] = field(default_factory=list)
    missing_size: list[dict] = field(default_factory=list)


def is_int(value) -> bool:
    """An integer, not a bool (JSON true is not an id). `type(...) is` is faster on 100k boxes."""
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def is_number(value) -> bool:
    """A finite int or float, not a bool."""
    kind = type(value)
    if kind is int:
        return True
    if kind is float:
        return math.isfinite(value)
    return is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def id_problem(value, what: str) -> str | None:
    """Why `value` is not a usable integer id, or None when it is."""
    if is_int(value):
        return None
    if isinstance(value, str):
        return f"{what} {value!r} is a string, not an integer"
    return f"{what} {_short(value)} is not an integer"


def bbox_problem(bbox) -> str | None:
    """Why `bbox` is not [x, y, w, h] with finite numbers and w, h >= 0, or None when it is."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not (
            is_number(bbox[0]) and is_number(bbox[1]) and is_number(bbox[2]) and is_number(bbox[3])):
        return f"bbox must be 4 numbers [x, y, width, height], got {_short(bbox)}"
    if bbox[2] < 0 or bbox[3] < 0:
        return f"bbox {_short(list(bbox))} has a negative width or height"
    return None


def _where(kind: str, i: int, record: dict) -> str:
    rid = record.get("id")
    return f"{kind}[{i}] (id {rid})" if is_int(rid) else f"{kind}[{i}]"


def _check_ids(kind: str, records: list, required: tuple[str, ...], problems: list[str]) -> dict:
    """Check record shape, required keys and unique integer ids; return {id: record}."""
    by_id: dict[int, dict] = {}
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            problems.append(f"{kind}[{i}] is a {type(record).__name__}, not an object")
            continue
        missing = [k for k in required if k not in record]
        if missing:
            problems.append(f"{_where(kind, i, record)}: missing {', '.join(missing)}")
        if "id" not in record:
            continue
        bad = id_problem(record["id"], "id")
        if bad:
            problems.append(f"{kind}[{i}]: {bad}")
        elif record["id"] in by_id:
            problems.append(f"{kind}[{i}]: duplicate id {record['id']}")
        else:
            by_id[record["id"]] = record
    return by_id


def _check_images(images: list, problems: list[str], warnings: list[str], fixes: Fixes) -> dict:
    by_id = _check_ids("images", images, ("id", "file_name"), problems)
    seen_names: set[str] = set()
    duplicate_names = 0
    for i, image in enumerate(images):
        if not isinstance(image, dict):
            continue
        name = image.get("file_name")
        if "file_name" in image and (not isinstance(name, str) or not name.strip()):
            problems.append(f"{_where('images', i, image)}: file_name must be a non-empty string")
        elif isinstance(name, str):
            duplicate_names += name in seen_names
            seen_names.add(name)
        if "width" not in image or "height" not in image:
            fixes.missing_size.append(image)
            continue
        if not (is_number(image["width"]) and image["width"] > 0
                and is_number(image["height"]) and image["height"] > 0):
            problems.append(f"{_where('images', i, image)}: width/height must be positive numbers,"
                            f" got {_short(image['width'])}x{_short(image['height'])}")
    if duplicate_names:
        warnings.append(f"{duplicate_names} images repeat a file_name already used by another image")
    return by_id


def _check_categories(categories: list, problems: list[str], warnings: list[str]) -> dict:
    by_id = _check_ids("categories", categories, ("id", "name"), problems)
    names: set[str] = set()
    duplicates = []
    for i, category in enumerate(categories):
        if not isinstance(category, dict) or "name" not in category:
            continue
        name = category["name"]
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{_where('categories', i, category)}: name must be a non-empty string")
        elif name in names:
            duplicates.append(name)
        else:
            names.add(name)
    if duplicates:
        warnings.append(f"{len(duplicates)} categories repeat a name: {', '.join(sorted(set(duplicates)))}")
    return by_id


def _check_reference(value, what: str, known: dict) -> str | None:
    bad = id_problem(value, what)
    if bad:
        return bad
    return None if value in known else f"{what} {value} does not exist"


def _check_annotations(data: dict, images: dict, categories: dict, report: LoadReport,
                       fixes: Fixes) -> None:
    annotations = data["annotations"]
    problems = report.problems
    _check_ids("annotations", annotations, ("id", "image_id", "category_id", "bbox"), problems)
    zero_size = outside = 0
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            continue
        where = _where("annotations", i, ann)
        for key, known in (("image_id", images), ("category_id", categories)):
            bad = _check_reference(ann[key], key, known) if key in ann else None
            if bad:
                problems.append(f"{where}: {bad}")
        if "bbox" in ann:
            bad = bbox_problem(ann["bbox"])
            if bad:
                problems.append(f"{where}: {bad}")
            else:
                x, y, w, h = ann["bbox"]
                zero_size += w == 0 or h == 0
                image = images.get(ann.get("image_id")) if is_int(ann.get("image_id")) else None
                if image and is_number(image.get("width")) and is_number(image.get("height")):
                    t = OUTSIDE_TOLERANCE
                    outside += (x < -t or y < -t or x + w > image["width"] + t
                                or y + h > image["height"] + t)
        if "area" not in ann:
            fixes.missing_area.append(ann)
        elif not is_number(ann["area"]) or ann["area"] < 0:
            problems.append(f"{where}: area must be a non-negative number, got {_short(ann['area'])}")
        if "iscrowd" not in ann:
            fixes.missing_iscrowd.append(ann)
        elif not is_int(ann["iscrowd"]) or ann["iscrowd"] not in (0, 1):
            problems.append(f"{where}: iscrowd must be 0 or 1, got {_short(ann['iscrowd'])}")
    report.counts.update(zero_size_boxes=zero_size, boxes_outside_image=outside)
    if zero_size:
        report.warnings.append(f"{zero_size} boxes have zero width or height (kept)")
    if outside:
        report.warnings.append(f"{outside} boxes extend more than {OUTSIDE_TOLERANCE:g} px outside "
                               "their image (kept)")


def validate(data, path: Path | None = None) -> tuple[LoadReport, Fixes]:
    """Check a parsed COCO object without changing it."""
    report, fixes = LoadReport(path=path), Fixes()
    if not isinstance(data, dict):
        report.problems.append(f"top level is a JSON {type(data).__name__}, not an object")
        return report, fixes
    for key in REQUIRED_LISTS:
        if key not in data:
            report.problems.append(f"missing top-level key {key!r}")
        elif not isinstance(data[key], list):
            report.problems.append(f"{key!r} must be a list, got {type(data[key]).__name__}")
    if report.problems:
        return report, fixes
    report.counts.update(images=len(data["images"]), annotations=len(data["annotations"]),
                         categories=len(data["categories"]))
    images = _check_images(data["images"], report.problems, report.warnings, fixes)
    categories = _check_categories(data["categories"], report.problems, report.warnings)
    _check_annotations(data, images, categories, report, fixes)
    return report, fixes


def apply_fixes(fixes: Fixes, image_root: Path, report: LoadReport) -> None:
    """Repair what has one obvious answer, in place, and say so in `report` (with counts)."""
    for ann in fixes.missing_area:
        bbox = ann.get("bbox")
        ann["area"] = bbox[2] * bbox[3] if bbox_problem(bbox) is None else 0
    for ann in fixes.missing_iscrowd:
        ann["iscrowd"] = 0
    read = 0
    for image in fixes.missing_size:
        name = image.get("file_name")
        if not isinstance(name, str):
            continue
        try:
            image["width"], image["height"] = image_size(image_root / name)
            read += 1
        except ImageError as e:
            report.problems.append(f"image {image.get('id')}: no width/height and cannot read them "
                                   f"from the image ({e})")
    report.counts.update(area_computed=len(fixes.missing_area),
                         iscrowd_set=len(fixes.missing_iscrowd), size_read=read)
    if fixes.missing_area:
        report.warnings.append(f"{len(fixes.missing_area)} annotations had no area: set to "
                               "bbox width*height")
    if fixes.missing_iscrowd:
        report.warnings.append(f"{len(fixes.missing_iscrowd)} annotations had no iscrowd: set to 0")
    if read:
        report.warnings.append(f"{read} images had no width/height: read from the image files")
