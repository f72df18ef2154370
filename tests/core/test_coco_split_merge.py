"""split_document / merge_documents / document_stats: stratified seeded splits, merges that remap
only what collides, and split-then-merge giving the original back on the real exports."""
from __future__ import annotations

import json

import pytest

from detr_core.coco import CocoDocument, document_stats, merge_documents, split_document
from detr_core.coco.split import split_image_ids
from detr_core.errors import DatasetError

REAL_FILES = ["coco_tiny/annotations/instances_train2017.json",
              "coco_tiny/annotations/instances_val2017.json",
              "facemask_coco/annotations/custom_train.json",
              "facemask_coco/annotations/custom_val.json"]


def by_id(records: list[dict]) -> str:
    return json.dumps(sorted(records, key=lambda r: r["id"]))


def same_meaning(a: dict, b: dict) -> bool:
    """Same top-level keys and records (by id, each record with its key order)."""
    if list(a) != list(b):
        return False
    return all(by_id(a[k]) == by_id(b[k]) if k in ("images", "annotations", "categories")
               else json.dumps(a[k]) == json.dumps(b[k]) for k in a)


def classes_per_image_count(doc: CocoDocument) -> dict[int, int]:
    return {c["id"]: len({a["image_id"] for a in doc.annotations if a["category_id"] == c["id"]})
            for c in doc.categories}


@pytest.mark.parametrize("name", REAL_FILES)
def test_split_then_merge_gives_the_original(shared_data, name):
    doc, _ = CocoDocument.load(shared_data / name)
    train, val, unsatisfied = split_document(doc, 0.25, seed=3)
    assert unsatisfied == []
    train_ids = {im["id"] for im in train.images}
    val_ids = {im["id"] for im in val.images}
    assert not train_ids & val_ids and len(train_ids | val_ids) == len(doc.images)
    assert abs(len(val_ids) - 0.25 * len(doc.images)) <= 0.1 * len(doc.images)
    in_train, in_val = classes_per_image_count(train), classes_per_image_count(val)
    for cat_id, n in classes_per_image_count(doc).items():
        if n >= 2:
            assert in_train[cat_id] >= 1 and in_val[cat_id] >= 1, doc.category(cat_id)["name"]
    for part in (train, val):
        assert json.dumps(part.categories) == json.dumps(doc.categories)
        assert part.data.get("info") == doc.data.get("info")
        assert part.data.get("licenses") == doc.data.get("licenses")
    merged = merge_documents(train, val)
    assert same_meaning(merged.document.data, doc.data)
    assert merged.warnings == [] and merged.counts["duplicate_boxes_dropped"] == 0


def test_split_is_seeded_and_deterministic(shared_data):
    doc, _ = CocoDocument.load(shared_data / "coco_tiny/annotations/instances_val2017.json")
    first = split_image_ids(doc, 0.2, seed=7)
    assert split_image_ids(doc, 0.2, seed=7) == first
    assert split_image_ids(doc, 0.2, seed=8) != first


def _doc(tmp_path, images, annotations, categories=("a", "b", "c")) -> CocoDocument:
    doc = CocoDocument.new(tmp_path, categories=list(categories))
    for name in images:
        doc.add_image(tmp_path / name, 10, 10)
    for image_id, cat_id in annotations:
        doc.add_annotation(image_id, cat_id, [1, 1, 2, 2])
    return doc


def test_split_keeps_rare_classes_on_both_sides(tmp_path):
    # 20 images of class 1, two images of class 2, two of class 3 sharing one image
    images = [f"{i}.png" for i in range(24)]
    annotations = [(i, 1) for i in range(1, 21)] + [(21, 2), (22, 2), (22, 3), (23, 3)]
    doc = _doc(tmp_path, images, annotations)
    for seed in range(10):
        train, val, unsatisfied = split_document(doc, 0.1, seed)
        assert unsatisfied == []
        for part in (train, val):
            assert {a["category_id"] for a in part.annotations} == {1, 2, 3}


def test_split_reports_what_cannot_be_satisfied(tmp_path):
    # three classes on the three pairs of three images: two sides cannot separate all pairs
    doc = _doc(tmp_path, ["x.png", "y.png", "z.png"],
               [(1, 1), (2, 1), (1, 2), (3, 2), (2, 3), (3, 3)])
    train, val, unsatisfied = split_document(doc, 0.5, 0)
    assert len(unsatisfied) == 1
    split_ok = [c for c in (1, 2, 3) if c not in unsatisfied]
    for part in (train, val):
        assert set(split_ok) <= {a["category_id"] for a in part.annotations}
    single = _doc(tmp_path / "s", ["only.png", "empty.png"], [(1, 1), (1, 2)])
    assert split_document(single, 0.5, 0).unsatisfied == []  # 1 image per class: not required


def test_split_rejects_bad_fraction(tmp_path):
    doc = _doc(tmp_path, ["x.png", "y.png"], [])
    for fraction in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError):
            split_document(doc, fraction)


def test_merge_real_train_and_val_with_clashing_ids(shared_data):
    train, _ = CocoDocument.load(shared_data / "facemask_coco/annotations/custom_train.json")
    val, _ = CocoDocument.load(shared_data / "facemask_coco/annotations/custom_val.json")
    result = merge_documents(train, val)
    doc = result.document
    assert len(doc.images) == len(train.images) + len(val.images)
    assert len(doc.annotations) == len(train.annotations) + len(val.annotations)
    assert [c["name"] for c in doc.categories] == [c["name"] for c in train.categories]
    assert len({im["id"] for im in doc.images}) == len(doc.images)
    assert len({a["id"] for a in doc.annotations}) == len(doc.annotations)
    assert result.counts["image_ids_remapped"] == len(val.images)  # both start at 0
    # every val box is still on the same picture with the same class name and bbox
    for ann in doc.annotations[len(train.annotations):]:
        image = doc.image(ann["image_id"])
        assert doc.image_path(image["id"]).is_file()
        assert image["file_name"].startswith("../val2017/")
    assert doc.image_root == train.image_root
    first_val = val.annotations[0]
    merged_first = doc.annotations[len(train.annotations)]
    assert merged_first["bbox"] == first_val["bbox"]
    assert doc.category(merged_first["category_id"])["name"] == \
           val.category(first_val["category_id"])["name"]


def test_merge_matches_categories_by_name_and_images_by_path(tmp_path):
    a = _doc(tmp_path, ["x.png", "y.png"], [(1, 1), (2, 2)], categories=("cat", "dog"))
    b = _doc(tmp_path, ["y.png", "z.png"], [(1, 1), (1, 2), (2, 3)],
             categories=("dog", "cat", "bird"))
    # b: image 1 = y.png (also in a, as image 2): box "dog" duplicates a's, box "cat" is new
    result = merge_documents(a, b)
    doc = result.document
    assert [c["name"] for c in doc.categories] == ["cat", "dog", "bird"]
    assert doc.category_by_name("bird")["id"] == 3  # free in a: kept
    assert [im["file_name"] for im in doc.images] == ["x.png", "y.png", "z.png"]
    assert result.counts["images_merged"] == 1 and result.counts["duplicate_boxes_dropped"] == 1
    y_boxes = [doc.category(a_["category_id"])["name"] for a_ in doc.annotations_for(2)]
    assert y_boxes == ["dog", "cat"]
    assert any("duplicate a box" in w for w in result.warnings)
    assert len(merge_documents(a, a).document.annotations) == len(a.annotations)


def test_merge_refuses_same_file_with_other_size(tmp_path):
    a = _doc(tmp_path, ["x.png"], [])
    b = CocoDocument.new(tmp_path)
    b.add_image(tmp_path / "x.png", 20, 10)
    with pytest.raises(DatasetError, match="x.png is also in .* with another size"):
        merge_documents(a, b)


def test_merge_remaps_clashing_licenses(tmp_path):
    a = _doc(tmp_path, ["x.png"], [])
    b = _doc(tmp_path, ["y.png"], [])
    a.data["licenses"] = [{"id": 1, "name": "CC BY"}]
    b.data["licenses"] = [{"id": 1, "name": "proprietary"}, {"id": 7, "name": "MIT"}]
    b.images[0]["license"] = 1
    result = merge_documents(a, b)
    doc = result.document
    assert doc.data["licenses"] == [{"id": 1, "name": "CC BY"}, {"id": 8, "name": "proprietary"},
                                    {"id": 7, "name": "MIT"}]
    assert result.counts["license_ids_remapped"] == 1
    assert doc.image(2)["license"] == 8 and b.images[0]["license"] == 1  # inputs untouched


def test_stats(tmp_path):
    doc = _doc(tmp_path, ["x.png", "y.png", "z.png"], [(1, 1), (1, 1), (2, 2)])
    doc.add_annotation(2, 2, [8, 8, 5, 5], iscrowd=1)
    doc.add_annotation(2, 1, [0, 0, 0, 3])
    stats = document_stats(doc)
    assert (stats["images"], stats["annotations"], stats["categories"]) == (3, 5, 3)
    assert stats["images_without_boxes"] == 1 and stats["crowd_boxes"] == 1
    assert stats["zero_size_boxes"] == 1 and stats["boxes_outside_image"] == 1
    assert stats["max_boxes_per_image"] == 3
    assert [(c["name"], c["boxes"], c["images"]) for c in stats["classes"]] == \
           [("a", 3, 2), ("b", 2, 1), ("c", 0, 0)]
