"""CocoDocument: lossless load/save on real exports, edits that touch only what they should, undo
records that round-trip exactly, and an index that stays right (and O(1)) under edits."""
from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from detr_core.coco import CocoDocument
from detr_core.errors import DatasetError

REAL_FILES = ["coco_tiny/annotations/instances_train2017.json",
              "coco_tiny/annotations/instances_val2017.json",
              "facemask_coco/annotations/custom_train.json",
              "facemask_coco/annotations/custom_val.json"]


def ordered(data) -> str:
    """Equal strings = equal JSON including key order (== on dicts ignores order)."""
    return json.dumps(data)


def small_coco() -> dict:
    return {
        "info": {"description": "tiny", "x-tool": {"v": 1}},
        "images": [{"id": 10, "file_name": "a.jpg", "width": 100, "height": 80, "extra": "keep"},
                   {"id": 11, "file_name": "sub/b.jpg", "width": 50, "height": 50}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 1, "bbox": [1, 2, 10, 20], "area": 150.5,
             "iscrowd": 0, "segmentation": [[1, 2, 3, 4, 5, 6]], "score_note": "x"},
            {"id": 2, "image_id": 11, "category_id": 2, "bbox": [0, 0, 5, 5], "area": 25,
             "iscrowd": 0},
            {"id": 3, "image_id": 10, "category_id": 2, "bbox": [5, 5, 5, 5], "area": 25,
             "iscrowd": 0},
        ],
        "categories": [{"supercategory": "animal", "id": 1, "name": "cat", "color": "#f00"},
                       {"supercategory": "animal", "id": 2, "name": "dog"}],
        "x-top": [1, 2, 3],
    }


@pytest.fixture
def doc(tmp_path) -> CocoDocument:
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(small_coco(), indent=2))
    document, _ = CocoDocument.load(path)
    return document


@pytest.mark.parametrize("name", REAL_FILES)
def test_real_file_round_trips_unchanged(shared_data, tmp_path, name):
    source = shared_data / name
    doc, report = CocoDocument.load(source)
    assert report.problems == [] and report.counts["missing_image_files"] == 0
    assert doc.image_path(doc.images[0]["id"]).is_file()  # the sibling image folder was found
    out = tmp_path / "out.json"
    doc.save(out)
    assert ordered(json.loads(out.read_text())) == ordered(json.loads(source.read_text()))
    assert out.read_bytes() == source.read_bytes()  # its own formatting is kept too


def test_edits_change_only_what_they_should_on_real_file(shared_data, tmp_path):
    source = shared_data / "coco_tiny/annotations/instances_val2017.json"
    doc, _ = CocoDocument.load(source)
    original = copy.deepcopy(doc.data)
    target = doc.annotations[5]
    assert target["area"] != target["bbox"][2] * target["bbox"][3]  # COCO area = mask area
    doc.set_bbox(target["id"], [10, 20, 30, 40])
    new_id = doc.add_annotation(doc.images[0]["id"], 1, [1, 1, 2, 2])
    doc.set_category(doc.annotations[7]["id"], 3)
    doc.save(tmp_path / "out.json")
    saved = json.loads((tmp_path / "out.json").read_text())
    assert new_id == max(a["id"] for a in original["annotations"]) + 1
    assert saved["annotations"][-1] == {"id": new_id, "image_id": doc.images[0]["id"],
                                        "category_id": 1, "bbox": [1.0, 1.0, 2.0, 2.0],
                                        "area": 4.0, "segmentation": [], "iscrowd": 0}
    expected = copy.deepcopy(original)
    expected["annotations"][5].update(bbox=[10.0, 20.0, 30.0, 40.0], area=1200.0)
    expected["annotations"][7]["category_id"] = 3
    saved["annotations"].pop()
    assert ordered(saved) == ordered(expected)


def test_undoing_every_edit_saves_the_original_bytes(shared_data, tmp_path):
    source = shared_data / "facemask_coco/annotations/custom_val.json"
    doc, _ = CocoDocument.load(source)
    first = copy.deepcopy(doc.annotation(3))
    assert first["area"] == first["bbox"][2] * first["bbox"][3] and isinstance(first["area"], int)
    old_bbox = doc.set_bbox(3, [1.5, 2.5, 3.5, 4.5])
    assert doc.annotation(3)["area"] == 3.5 * 4.5
    old_cat = doc.set_category(3, 0)
    index, ann = doc.remove_annotation(4)
    record = doc.merge_categories(2, 1)
    doc.restore(record)
    doc.insert_annotation(index, ann)
    doc.set_category(3, old_cat)
    doc.set_bbox(3, old_bbox)
    assert ordered(doc.annotation(3)) == ordered(first)  # ints again, not 298.0
    doc.save(tmp_path / "same.json")
    assert (tmp_path / "same.json").read_bytes() == source.read_bytes()


def test_set_bbox_area_rules(doc):
    assert doc.set_bbox(1, [0, 0, 4, 5]) == [1.0, 2.0, 10.0, 20.0]
    assert doc.annotation(1)["area"] == 20.0
    assert doc.annotation(3)["area"] == 25  # untouched boxes keep their area
    doc.set_bbox(1, [0, 0, 4, 6], area=7.0)
    assert doc.annotation(1)["area"] == 7.0
    doc.set_bbox(1, [1.0, 2.0, 10.0, 20.0])  # back to the load-time box
    assert doc.annotation(1)["bbox"] == [1, 2, 10, 20] and doc.annotation(1)["area"] == 150.5
    with pytest.raises(ValueError, match="negative"):
        doc.set_bbox(1, [0, 0, -1, 5])
    with pytest.raises(ValueError, match="4 numbers"):
        doc.set_bbox(1, [0, 0, 5])


def test_add_remove_insert_and_fresh_ids(doc, tmp_path):
    before = ordered(doc.data)
    first = doc.add_annotation(11, 1, [1, 2, 3, 4], iscrowd=1)
    assert first == 4 and doc.annotation(first)["iscrowd"] == 1
    index, ann = doc.remove_annotation(first)
    assert ordered(doc.data) == before
    doc.insert_annotation(index, ann)  # redo keeps the id
    assert doc.annotation(first) is ann
    doc.remove_annotation(first)
    assert doc.add_annotation(11, 1, [0, 0, 1, 1]) == 5  # never reuses 4 in this session
    index, ann = doc.remove_annotation(1)
    assert index == 0 and [a["id"] for a in doc.annotations_for(10)] == [3]
    doc.insert_annotation(index, ann)
    assert [a["id"] for a in doc.annotations_for(10)] == [1, 3]
    with pytest.raises(ValueError, match="already"):
        doc.insert_annotation(0, ann)
    with pytest.raises(KeyError):
        doc.add_annotation(999, 1, [0, 0, 1, 1])
    with pytest.raises(KeyError):
        doc.add_annotation(10, 999, [0, 0, 1, 1])


def test_images_paths_and_find(doc, tmp_path):
    assert doc.image_root == tmp_path
    assert doc.image_path(11) == tmp_path / "sub" / "b.jpg"
    assert doc.find_image(tmp_path / "sub" / "b.jpg") == 11
    assert doc.find_image(tmp_path / "sub" / ".." / "a.jpg") == 10
    assert doc.find_image(tmp_path / "nope.jpg") is None
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jpg").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "sub")
    assert doc.find_image(tmp_path / "link" / "b.jpg") == 11  # by resolved path
    new_id = doc.add_image(tmp_path / "deep" / "c.png", 30, 20, license=1)
    assert new_id == 12
    assert doc.image(new_id) == {"id": 12, "file_name": "deep/c.png", "width": 30, "height": 20,
                                 "license": 1}
    assert doc.find_image(tmp_path / "deep" / "c.png") == 12 and doc.annotations_for(12) == []
    with pytest.raises(DatasetError, match="already in the document"):
        doc.add_image(tmp_path / "a.jpg", 1, 1)
    with pytest.raises(ValueError):
        doc.add_image(tmp_path / "d.png", 0, 20)


def test_remove_image_and_restore(doc):
    before = ordered(doc.data)
    record = doc.remove_image(10)
    assert [a["id"] for a in doc.annotations] == [2]
    with pytest.raises(KeyError):
        doc.image(10)
    doc.restore(record)
    assert ordered(doc.data) == before and [a["id"] for a in doc.annotations_for(10)] == [1, 3]
    assert doc.reapply(record)["removed"] == record["removed"]


def test_category_edits_and_undo_records(doc):
    before = ordered(doc.data)
    assert doc.category_by_name("dog")["id"] == 2
    assert doc.add_category("bird", "animal", color="#0f0") == 3
    assert doc.category(3) == {"id": 3, "name": "bird", "supercategory": "animal", "color": "#0f0"}
    with pytest.raises(DatasetError, match="'cat' already exists"):
        doc.add_category("cat")
    with pytest.raises(DatasetError, match="already exists"):
        doc.rename_category(3, "dog")
    assert doc.rename_category(3, "parrot") == "bird" and doc.category_by_name("bird") is None
    assert doc.set_supercategory(3, "pet") == "animal"
    doc.restore(doc.remove_category(3))  # add_category's undo/redo pair
    assert doc.category(3)["name"] == "parrot"
    doc.remove_category(3)
    doc.rename_category(1, "kitty")
    assert doc.rename_category(1, "cat") == "kitty"
    after_add = ordered(doc.data)
    record = doc.merge_categories(2, 1)
    assert [a["category_id"] for a in doc.annotations] == [1, 1, 1] and record["moved"] == [2, 3]
    assert doc.category_by_name("dog") is None
    doc.restore(record)
    assert ordered(doc.data) == after_add
    redo = doc.reapply(record)
    assert {k: v for k, v in redo.items()} == record
    doc.undo_merge(redo)
    record = doc.remove_category(2, boxes="delete")
    assert [a["id"] for a in doc.annotations] == [1] and doc.annotations_for(11) == []
    assert [i for i, _ in record["removed"]] == [1, 2]
    doc.restore(record)
    assert ordered(doc.data) == after_add == before
    record = doc.remove_category(1, boxes="keep-as", target_id=2)
    assert [a["category_id"] for a in doc.annotations] == [2, 2, 2]
    doc.restore(record)
    assert ordered(doc.data) == before
    with pytest.raises(ValueError):
        doc.merge_categories(1, 1)
    with pytest.raises(ValueError):
        doc.remove_category(1, boxes="move")


def test_supercategory_absent_round_trips(doc):
    doc.add_category("fish")
    cat = doc.category(3)
    del cat["supercategory"]
    assert doc.set_supercategory(3, "water") is None
    doc.set_supercategory(3, None)
    assert "supercategory" not in cat


def test_revision_dirty_and_new(tmp_path):
    img = tmp_path / "imgs" / "x.jpg"
    img.parent.mkdir()
    doc = CocoDocument.new(tmp_path / "imgs", [(img, 64, 48)], ["person", "car"])
    assert doc.dirty and doc.path is None
    assert [c["id"] for c in doc.categories] == [1, 2]
    assert doc.images[0]["file_name"] == "x.jpg" and doc.images[0]["id"] == 1
    with pytest.raises(DatasetError, match="file name"):
        doc.save()
    doc.save(tmp_path / "new.json")
    assert not doc.dirty
    rev = doc.revision
    doc.add_annotation(1, 2, [1, 2, 3, 4])
    assert doc.revision == rev + 1 and doc.dirty
    doc.save()
    loaded, report = CocoDocument.load(tmp_path / "new.json", tmp_path / "imgs")
    assert ordered(loaded.data) == ordered(doc.data) and not loaded.dirty
    assert report.image_root_reason == "given"
    copy_ = loaded.to_json()
    copy_["images"].clear()
    assert len(loaded.images) == 1


def _check_index(doc: CocoDocument) -> None:
    for image in doc.images:
        expected = [a for a in doc.annotations if a["image_id"] == image["id"]]
        got = doc.annotations_for(image["id"])
        assert len(got) == len(expected) and all(g is e for g, e in zip(got, expected))
    for ann in doc.annotations:
        assert doc.annotation(ann["id"]) is ann


def test_index_stays_right_under_random_edits(doc):
    rng = random.Random(0)
    for image_number in range(5):
        doc.add_image(doc.image_root / f"r{image_number}.jpg", 40, 40)
    undo: list = []
    for step in range(300):
        image_ids = [im["id"] for im in doc.images]
        op = rng.choice(["add", "add", "remove", "undo", "category", "remove_image"])
        if op == "add":
            ann_id = doc.add_annotation(rng.choice(image_ids), rng.choice([1, 2]), [1, 1, 2, 2])
            undo.append(("remove", ann_id))
        elif op == "remove" and doc.annotations:
            undo.append(("insert", doc.remove_annotation(rng.choice(doc.annotations)["id"])))
        elif op == "category" and doc.annotations:
            ann = rng.choice(doc.annotations)
            undo.append(("category", ann["id"], doc.set_category(ann["id"], 3 - ann["category_id"])))
        elif op == "remove_image" and len(image_ids) > 1:
            undo.append(("restore", doc.remove_image(rng.choice(image_ids))))
        elif op == "undo" and undo:
            entry = undo.pop()
            if entry[0] == "remove":
                doc.remove_annotation(entry[1])
            elif entry[0] == "insert":
                doc.insert_annotation(*entry[1])
            elif entry[0] == "category":
                doc.set_category(entry[1], entry[2])
            else:
                doc.restore(entry[1])
        _check_index(doc)


def test_ten_thousand_images_index(tmp_path):
    images = [{"id": i, "file_name": f"{i:05d}.jpg", "width": 640, "height": 480}
              for i in range(1, 10_001)]
    rng = random.Random(1)
    annotations = [{"id": n, "image_id": rng.randint(1, 10_000), "category_id": 1,
                    "bbox": [1, 1, 10, 10], "area": 100, "iscrowd": 0}
                   for n in range(1, 100_001)]
    doc = CocoDocument({"images": images, "annotations": annotations,
                        "categories": [{"id": 1, "name": "thing"}]}, tmp_path)
    # 10,000 look-ups: a scan of the 100k boxes per call would not finish in test time
    assert sum(len(doc.annotations_for(i)) for i in range(1, 10_001)) == 100_000
    index, ann = doc.remove_annotation(50_000)
    doc.insert_annotation(index, ann)
    new_id = doc.add_annotation(7, 1, [0, 0, 1, 1])
    expected = [a for a in annotations if a["image_id"] == 7]
    assert doc.annotations_for(7) == expected and expected[-1]["id"] == new_id == 100_001
    assert doc.find_image(tmp_path / "09999.jpg") == 9999


def _edit_everything(doc) -> None:
    """One of every edit, undo and redo included (the undo records go through `restore`)."""
    doc.set_bbox(1, [2, 2, 8, 8])
    new_ann = doc.add_annotation(11, 1, [1, 1, 4, 4])
    index, ann = doc.remove_annotation(new_ann)
    doc.insert_annotation(index, ann)
    doc.set_bbox(new_ann, [3, 3, 4, 4])
    doc.set_category(3, 1)
    doc.set_bbox(1, [1, 2, 10, 20])  # back to the load-time box: the load-time area returns
    image_id = doc.add_image(doc.image_root / "c.jpg", 30, 20, note="new")
    doc.restore(doc.remove_image(image_id))
    doc.set_image_field(10, "workbench_status", "reviewed")
    doc.set_image_field(11, "workbench_status", "edited")
    doc.set_image_field(11, "workbench_status", None)
    bird = doc.add_category("bird", "animal")
    doc.rename_category(bird, "parrot")
    doc.set_supercategory(bird, None)
    doc.set_category_field(bird, "color", "#00ff00")
    record = doc.merge_categories(2, 1)
    doc.restore(record)
    doc.reapply(record)
    doc.remove_category(bird, boxes="delete")


def test_category_edits_are_an_object_the_document_owns(doc):
    from detr_core.coco.category_edits import CategoryEdits
    assert not any(issubclass(base, CategoryEdits) for base in type(doc).__mro__)
    assert isinstance(doc._categories, CategoryEdits) and doc._categories.data is doc.data
    with pytest.raises(ValueError, match="cannot set 'file_name'"):
        doc.set_image_field(10, "file_name", "x.jpg")
    with pytest.raises(ValueError, match="cannot set 'name'"):
        doc.set_category_field(1, "name", "x")


def test_every_edit_is_recorded_once_and_replays_exactly(doc, tmp_path):
    from detr_core.coco.changes import encode, replay
    doc.add_annotation(10, 1, [0, 0, 3, 3])  # before the snapshot: ids move on
    doc.restore(doc.remove_category(doc.add_category("gone")))
    snapshot, session = copy.deepcopy(doc.data), doc.memory.session_state()
    records = []
    doc.memory.add_observer(lambda change: records.append(encode(change)))
    revision = doc.revision
    _edit_everything(doc)
    assert len(records) == doc.revision - revision  # nested calls (reapply) reported once
    assert [r["op"] for r in records].count("remove_image") == 1
    json.dumps(records)  # plain JSON, copied at the time of the edit
    copy_doc = CocoDocument(snapshot, doc.image_root, doc.path)
    copy_doc.memory.adopt_session_state(json.loads(json.dumps(session)))
    assert replay(copy_doc, json.loads(json.dumps(records))) == len(records)
    assert ordered(copy_doc.data) == ordered(doc.data)


def test_a_record_that_does_not_apply_is_a_one_line_error(doc):
    from detr_core.coco.changes import apply_record
    with pytest.raises(DatasetError, match="unknown edit 'save'"):
        apply_record(doc, {"op": "save", "args": []})
    with pytest.raises(DatasetError, match="set_bbox from the journal does not apply"):
        apply_record(doc, {"op": "set_bbox", "args": [999, [0, 0, 1, 1]]})
    with pytest.raises(DatasetError, match="gave id 4, the journal says 7"):
        apply_record(doc, {"op": "add_annotation", "args": [10, 1, [0, 0, 1, 1]], "result": 7})
