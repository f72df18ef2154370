"""Training data from COCO files: class mapping, crowd/clip/degenerate handling with counts, EXIF
orientation, and one-line errors for bad input (handmade files in tmp_path and the shared data)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from detr_core.data import ClassMap, load_detection_dataset
from detr_core.data.transforms import EvalTransform, TrainTransform, resolution_preset
from detr_core.errors import DatasetError
from detr_core.images import load_image
from detr_core.infer.preprocess import preprocess


def _image(path, size=(100, 80), colour=(200, 30, 30)):
    Image.new("RGB", size, colour).save(path)


def _dataset(tmp_path, annotations, images=None, categories=None):
    for im in images or [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}]:
        if not (tmp_path / im["file_name"]).exists():
            _image(tmp_path / im["file_name"], (im["width"], im["height"]))
    data = {"images": images or [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}],
            "annotations": annotations,
            "categories": categories or [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}]}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path


def _ann(i, bbox, cat=3, crowd=0, image_id=1):
    return {"id": i, "image_id": image_id, "category_id": cat, "bbox": bbox, "area": bbox[2] * bbox[3],
            "iscrowd": crowd}


def test_category_ids_with_gaps_map_to_contiguous_classes_and_back(tmp_path):
    path = _dataset(tmp_path, [_ann(1, [10, 10, 20, 20], cat=7), _ann(2, [40, 10, 20, 20], cat=3)])
    ds, summary = load_detection_dataset(path, train=False, transform=EvalTransform(80, 200))
    assert ds.class_map == ClassMap((3, 7), ("cat", "dog"))
    assert ds.class_map.to_category() == {0: 3, 1: 7}
    _, target = ds[0]
    assert sorted(target["labels"].tolist()) == [0, 1]
    assert summary.per_class == {"cat": 1, "dog": 1}


def test_shared_data_category_ids_starting_at_zero_and_with_gaps(shared_data):
    mask, _ = load_detection_dataset(shared_data / "facemask_coco/annotations/custom_val.json", train=False)
    assert mask.class_map.category_ids == (0, 1, 2)
    coco, summary = load_detection_dataset(shared_data / "coco_tiny/annotations/instances_val2017.json",
                                           train=False)
    ids = coco.class_map.category_ids
    assert len(ids) == 80 and ids[0] == 1 and ids[-1] == 90  # COCO skips 11 of 1..91
    assert coco.class_map.class_of(90) == 79
    assert summary.crowd_ignored > 0  # coco val has crowd boxes


def test_crowd_ignored_boxes_clipped_and_degenerate_dropped_with_counts(tmp_path):
    path = _dataset(tmp_path, [
        _ann(1, [10, 10, 20, 20]),  # kept as is
        _ann(2, [-5, 70, 30, 30]),  # clipped to [0, 70, 25, 10]
        _ann(3, [50, 20, 0, 10]),  # zero width: dropped
        _ann(4, [120, 10, 20, 20]),  # entirely outside: nothing left after clipping, dropped
        _ann(5, [30, 30, 20, 20], crowd=1),  # crowd: ignored
    ])
    ds, summary = load_detection_dataset(path, train=False, transform=EvalTransform(80, 200))
    assert (summary.boxes, summary.clipped, summary.dropped_degenerate, summary.crowd_ignored) == (2, 1, 2, 1)
    text = "\n".join(summary.lines("training set"))
    assert "1 crowd boxes ignored" in text and "1 boxes clipped" in text and "2 zero-size boxes dropped" in text
    np.testing.assert_allclose(ds.records[0].boxes_xyxy, [[10, 10, 30, 30], [0, 70, 25, 80]])
    _, target = ds[0]  # eval transform at the original size: cxcywh normalised
    np.testing.assert_allclose(target["boxes"][1].numpy(), [12.5 / 100, 75 / 80, 25 / 100, 10 / 80], rtol=1e-6)


def test_image_without_boxes_is_a_valid_negative(tmp_path):
    images = [{"id": 1, "file_name": "a.png", "width": 100, "height": 80},
              {"id": 2, "file_name": "b.png", "width": 60, "height": 60}]
    path = _dataset(tmp_path, [_ann(1, [10, 10, 20, 20])], images=images)
    ds, summary = load_detection_dataset(path, train=True, transform=TrainTransform(resolution_preset("256")))
    assert summary.images_without_boxes == 1
    image, target = ds[1]
    assert target["boxes"].shape == (0, 4) and target["labels"].shape == (0,)
    assert image.shape[0] == 3


def test_exif_orientation_is_applied_as_the_detector_does(tmp_path):
    # Stored 120x60 landscape with EXIF "rotate 90": shown (and annotated) as 60x120 portrait.
    stored = Image.new("RGB", (120, 60), (0, 0, 0))
    stored.paste((255, 255, 255), (0, 0, 30, 60))  # the stored left edge is white
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    images = [{"id": 1, "file_name": "r.jpg", "width": 60, "height": 120}]
    path = _dataset(tmp_path, [_ann(1, [0, 0, 60, 30])], images=images)  # the white band, shown on top
    ds, summary = load_detection_dataset(path, train=False, transform=EvalTransform(120, 400))
    assert summary.size_mismatch == 0
    assert (ds.records[0].width, ds.records[0].height) == (60, 120)
    image, target = ds[0]
    expected = preprocess(load_image(tmp_path / "r.jpg"), 120, 400)
    assert torch.equal(image, expected)
    assert target["orig_size"].tolist() == [120, 60]
    top = image[:, :30].mean().item()
    bottom = image[:, 60:].mean().item()
    assert top > bottom + 1  # the box covers the bright band in the oriented image


def test_json_size_differing_from_the_file_is_counted_and_the_file_wins(tmp_path):
    _image(tmp_path / "a.png", (100, 80))
    images = [{"id": 1, "file_name": "a.png", "width": 50, "height": 40}]
    path = _dataset(tmp_path, [_ann(1, [60, 10, 30, 30])], images=images)
    ds, summary = load_detection_dataset(path, train=False, transform=EvalTransform(80, 200))
    assert summary.size_mismatch == 1 and summary.clipped == 0
    assert (ds.records[0].width, ds.records[0].height) == (100, 80)


def _refused(path, **kwargs) -> str:
    with pytest.raises(DatasetError) as info:
        load_detection_dataset(path, train=False, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


def test_missing_images_are_refused_naming_the_first_ones(tmp_path):
    images = [{"id": i, "file_name": f"img{i}.png", "width": 100, "height": 80} for i in range(1, 6)]
    path = _dataset(tmp_path, [_ann(1, [10, 10, 20, 20])], images=images)
    for i in (2, 3, 4, 5):
        (tmp_path / f"img{i}.png").unlink()
    message = _refused(path)
    assert "4 of 5 images are missing" in message and "img2.png, img3.png, img4.png (and 1 more)" in message


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["annotations"][0].update(category_id=99), "category_id 99 does not exist"),
    (lambda d: d["annotations"][0].update(image_id=42), "image_id 42 does not exist"),
    (lambda d: d["annotations"].append(dict(d["annotations"][0])), "duplicate id 1"),
    (lambda d: d["categories"][0].update(id="3"), "is a string"),
    (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), "bbox must be 4 numbers"),
])
def test_bad_references_and_ids_are_refused(tmp_path, change, expected):
    path = _dataset(tmp_path, [_ann(1, [10, 10, 20, 20])])
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    assert expected in _refused(path)


def test_malformed_json_is_refused(tmp_path):
    path = _dataset(tmp_path, [_ann(1, [10, 10, 20, 20])])
    path.write_text(path.read_text()[:-20])
    assert "JSON" in _refused(path)


def test_validation_set_with_a_class_the_model_lacks_is_refused(tmp_path):
    path = _dataset(tmp_path, [_ann(1, [10, 10, 20, 20], cat=7)])
    train_map = ClassMap((3,), ("cat",))
    assert "not in the training set: 7 (dog)" in _refused(path, class_map=train_map)
