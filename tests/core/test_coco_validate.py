"""Validation on load: what is refused (one line naming the file), what is fixed or kept with a
counted warning, and strict loading."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from detr_core.coco import CocoDocument, validate
from detr_core.errors import DatasetError


def base() -> dict:
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 50},
                   {"id": 2, "file_name": "b.png", "width": 100, "height": 50}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10],
                         "area": 100, "iscrowd": 0},
                        {"id": 2, "image_id": 2, "category_id": 2, "bbox": [5, 5, 20, 10],
                         "area": 200, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }


def write(tmp_path, data, name="ann.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def refused(tmp_path, data) -> str:
    path = write(tmp_path, data)
    with pytest.raises(DatasetError) as info:
        CocoDocument.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def _set(path: str, value):
    def change(d):
        *keys, last = path.split(".")
        target = d
        for key in keys:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is KeyError:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return change


REFUSED = [
    (_set("images", KeyError), "missing top-level key 'images'"),
    (_set("annotations", KeyError), "missing top-level key 'annotations'"),
    (_set("categories", {"1": "cat"}), "'categories' must be a list"),
    (_set("images.0.id", KeyError), "images[0]: missing id"),
    (_set("images.0.file_name", KeyError), "images[0] (id 1): missing file_name"),
    (_set("images.0.file_name", ""), "file_name must be a non-empty string"),
    (_set("images.0.width", -5), "width/height must be positive"),
    (_set("images.1.id", 1), "images[1]: duplicate id 1"),
    (_set("images.0", "a.png"), "images[0] is a str, not an object"),
    (_set("annotations.0.id", KeyError), "annotations[0]: missing id"),
    (_set("annotations.0.image_id", KeyError), "missing image_id"),
    (_set("annotations.0.category_id", KeyError), "missing category_id"),
    (_set("annotations.0.bbox", KeyError), "missing bbox"),
    (_set("annotations.0.bbox", [1, 2, 3]), "bbox must be 4 numbers"),
    (_set("annotations.0.bbox", [1, 2, "3", 4]), "bbox must be 4 numbers"),
    (_set("annotations.0.bbox", [1, 2, True, 4]), "bbox must be 4 numbers"),
    (_set("annotations.0.bbox", [1, 2, float("nan"), 4]), "bbox must be 4 numbers"),
    (_set("annotations.0.bbox", [1, 2, -3, 4]), "negative width or height"),
    (_set("annotations.0.image_id", 7), "image_id 7 does not exist"),
    (_set("annotations.0.category_id", 9), "category_id 9 does not exist"),
    (_set("annotations.1.id", 1), "annotations[1]: duplicate id 1"),
    (_set("categories.1.id", 1), "categories[1]: duplicate id 1"),
    (_set("categories.0.id", "1"), "categories[0]: id '1' is a string, not an integer"),
    (_set("annotations.0.category_id", "1"), "category_id '1' is a string, not an integer"),
    (_set("annotations.0.id", 1.0), "id 1.0 is not an integer"),
    (_set("images.0.id", True), "id True is not an integer"),
    (_set("annotations.0.iscrowd", 2), "iscrowd must be 0 or 1"),
    (_set("annotations.0.area", "big"), "area must be a non-negative number"),
    (_set("categories.0.name", None), "name must be a non-empty string"),
]


@pytest.mark.parametrize("change, expected", REFUSED, ids=[e for _, e in REFUSED])
def test_refused(tmp_path, change, expected):
    data = base()
    change(data)
    assert expected in refused(tmp_path, data)


def test_message_counts_and_lists_first_three(tmp_path):
    data = base()
    for cat in data["categories"]:
        cat["id"] = str(cat["id"])
    for ann in data["annotations"]:
        ann["category_id"] = str(ann["category_id"])
    message = refused(tmp_path, data)
    assert message == (f"{tmp_path / 'ann.json'}: 4 problems: categories[0]: id '1' is a string, "
                       "not an integer; categories[1]: id '2' is a string, not an integer; "
                       "annotations[0] (id 1): category_id '1' is a string, not an integer "
                       "(and 1 more)")


@pytest.mark.parametrize("text, expected", [
    ('{"images": [],\n  "annotations": [}', "malformed JSON at line 2 column 19"),
    ("[1, 2]", "top level is a JSON list, not an object"),
    ('"coco"', "top level is a JSON str, not an object"),
    ("", "empty file"),
])
def test_malformed_or_wrong_shape(tmp_path, text, expected):
    assert expected in refused(tmp_path, text)


def test_safe_fixes_are_applied_with_counted_warnings(tmp_path):
    data = base()
    del data["annotations"][0]["area"], data["annotations"][1]["area"]
    del data["annotations"][1]["iscrowd"]
    del data["images"][1]["width"], data["images"][1]["height"]
    # EXIF orientation 6 (rotated 90°): the shown size is 30x70, not the stored 70x30
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (70, 30)).save(tmp_path / "b.png", exif=exif)
    Image.new("RGB", (100, 50)).save(tmp_path / "a.png")
    doc, report = CocoDocument.load(write(tmp_path, data))
    assert doc.annotation(1)["area"] == 100 and doc.annotation(2)["area"] == 200
    assert doc.annotation(2)["iscrowd"] == 0
    assert (doc.image(2)["width"], doc.image(2)["height"]) == (30, 70)
    assert len(report.warnings) == 3
    assert "2 annotations had no area: set to bbox width*height" in report.warnings
    assert "1 annotations had no iscrowd: set to 0" in report.warnings
    assert "1 images had no width/height: read from the image files" in report.warnings
    assert report.counts["area_computed"] == 2 and report.counts["size_read"] == 1
    assert report.problems == []
    assert list(doc.annotation(1)) == ["id", "image_id", "category_id", "bbox", "iscrowd", "area"]


def test_missing_size_without_image_file_is_refused(tmp_path):
    data = base()
    del data["images"][0]["height"]
    assert "no width/height and cannot read them" in refused(tmp_path, data)


def test_kept_with_warnings(tmp_path):
    data = base()
    data["annotations"][0]["bbox"] = [1, 1, 0, 10]
    data["annotations"][1]["bbox"] = [90, 5, 20, 10]  # 10 px past the right edge
    data["images"][1]["file_name"] = "a.png"
    data["categories"].append({"id": 3, "name": "cat"})
    doc, report = CocoDocument.load(write(tmp_path, data))
    assert doc.annotation(1)["bbox"] == [1, 1, 0, 10]
    assert "1 boxes have zero width or height (kept)" in report.warnings
    assert "1 boxes extend more than 1 px outside their image (kept)" in report.warnings
    assert "1 categories repeat a name: cat" in report.warnings
    assert "1 images repeat a file_name already used by another image" in report.warnings
    assert report.counts["zero_size_boxes"] == 1 and report.counts["boxes_outside_image"] == 1
    assert doc.category_by_name("cat")["id"] == 1  # the first one wins


def test_strict_refuses_warnings(tmp_path):
    data = base()
    del data["annotations"][0]["iscrowd"]
    Image.new("RGB", (100, 50)).save(tmp_path / "a.png")
    Image.new("RGB", (100, 50)).save(tmp_path / "b.png")
    path = write(tmp_path, data)
    CocoDocument.load(path)
    with pytest.raises(DatasetError, match="1 problem: strict: 1 annotations had no iscrowd"):
        CocoDocument.load(path, strict=True)


def test_validate_does_not_change_data():
    data = base()
    del data["annotations"][0]["area"]
    report, fixes = validate(data)
    assert "area" not in data["annotations"][0] and fixes.missing_area == [data["annotations"][0]]
    assert report.ok and report.counts["images"] == 2


def test_real_files_are_clean(shared_data):
    for path in sorted(shared_data.glob("*/annotations/*.json")):
        _, report = CocoDocument.load(path, strict=True)
        assert report.warnings == [], path
