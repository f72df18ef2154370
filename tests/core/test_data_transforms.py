"""Augmentation, resolution presets, collation and the sampler: geometry checked by hand,
determinism checked by running the same samples twice and through worker processes."""
from __future__ import annotations

import random

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from detr_core.data import EpochSampler, collate, load_detection_dataset
from detr_core.data.transforms import (RESOLUTIONS, ResolutionPreset, TrainTransform, crop, hflip, resize,
                                       resolution_for)
from detr_core.data.synthetic import write_dataset


def _target(boxes, labels=None):
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    labels = torch.arange(len(boxes)) if labels is None else torch.tensor(labels)
    return {"boxes": boxes, "labels": labels}


def test_reference_resolution_is_the_published_recipe():
    ref = RESOLUTIONS["reference"]
    assert ref.scales == tuple(range(480, 801, 32))
    assert (ref.max_size, ref.crop_resize, ref.crop_min, ref.crop_max, ref.eval_size) == (1333, (400, 500, 600), 384, 600, 800)
    for res in RESOLUTIONS.values():
        assert all(s % 16 == 0 for s in res.scales) and res.crop_min <= res.crop_max
    assert resolution_for(256) is RESOLUTIONS["256"]
    assert resolution_for(300).eval_size == 304  # not a preset: the recipe scaled


def test_hflip_mirrors_boxes():
    image = Image.new("RGB", (100, 50))
    _, t = hflip(image, _target([[10, 5, 30, 25]]))
    assert t["boxes"].tolist() == [[70, 5, 90, 25]]


def test_resize_scales_boxes_with_the_image():
    image = Image.new("RGB", (200, 100))
    out, t = resize(image, _target([[20, 10, 60, 50]]), 50, 1000)
    assert out.size == (100, 50)
    assert t["boxes"].tolist() == [[10, 5, 30, 25]]
    out, _ = resize(image, _target([]), 80, 120)  # longest side capped
    assert out.size == (120, 60)


def test_crop_clips_boxes_and_drops_those_left_empty():
    image = Image.new("RGB", (100, 100))
    boxes = [[10, 10, 50, 50], [70, 30, 90, 50], [0, 0, 5, 5], [70, 70, 90, 90]]
    out, t = crop(image, _target(boxes, [0, 1, 2, 3]), 20, 20, 40, 60)  # top, left, height, width
    assert out.size == (60, 40)
    assert t["boxes"].tolist() == [[0, 0, 30, 30], [50, 10, 60, 30]]
    assert t["labels"].tolist() == [0, 1]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes")
    return write_dataset(folder, 6, seed=3, name="t")


def test_augmentation_depends_only_on_seed_epoch_and_index(shapes):
    res = ResolutionPreset("t", (128, 160), 200, (128,), 96, 128)
    a, _ = load_detection_dataset(shapes, train=True, transform=TrainTransform(res), seed=5)
    b, _ = load_detection_dataset(shapes, train=True, transform=TrainTransform(res), seed=5)
    a.set_epoch(2)
    b.set_epoch(2)
    for i in (3, 0, 5):  # any order
        xa, ta = a[i]
        xb, tb = b[i]
        assert torch.equal(xa, xb) and torch.equal(ta["boxes"], tb["boxes"])
    b.set_epoch(3)
    assert any(a[i][0].shape != b[i][0].shape or not torch.equal(a[i][0], b[i][0]) for i in range(6))
    # boxes stay normalised cxcywh inside the image
    for i in range(6):
        _, t = a[i]
        assert ((t["boxes"] >= 0) & (t["boxes"] <= 1)).all()


def test_workers_give_the_same_batches_as_the_main_process(shapes):
    res = ResolutionPreset("t", (128, 160), 200, (128,), 96, 128)
    ds, _ = load_detection_dataset(shapes, train=True, transform=TrainTransform(res), seed=1)
    sampler = EpochSampler(len(ds), seed=1)
    batches = {}
    for workers in (0, 2):
        sampler.set_epoch(4)
        ds.set_epoch(4)
        loader = DataLoader(ds, batch_size=2, sampler=sampler, num_workers=workers, collate_fn=collate)
        batches[workers] = [b.images for b in loader]
    assert len(batches[0]) == 3
    assert all(torch.equal(x, y) for x, y in zip(batches[0], batches[2]))


def test_collate_pads_bottom_right_and_masks_the_padding():
    a = torch.ones(3, 4, 6)
    b = torch.ones(3, 5, 3)
    batch = collate([(a, {"labels": torch.zeros(0)}), (b, {"labels": torch.zeros(0)})])
    assert batch.images.shape == (2, 3, 5, 6) and batch.mask.shape == (2, 5, 6)
    assert batch.mask[0, :4, :6].logical_not().all() and batch.mask[0, 4].all()
    assert batch.mask[1, :, 3:].all() and not batch.mask[1, :, :3].any()
    assert batch.images[1, :, :, 3:].abs().sum() == 0


def test_sampler_shards_cover_the_epoch_and_skip_resumes_mid_epoch():
    n = 11
    shards = [EpochSampler(n, seed=7, rank=r, world_size=3) for r in range(3)]
    for s in shards:
        s.set_epoch(2)
    orders = [list(s) for s in shards]
    assert all(len(o) == 4 for o in orders)  # padded to 12
    assert set(sum(orders, [])) == set(range(n))
    assert orders != [list(EpochSampler(n, seed=7, rank=r, world_size=3)) for r in range(3)]  # epoch 0 differs
    s = shards[1]
    s.set_epoch(2, skip=3)
    assert list(s) == orders[1][3:] and len(s) == 1
    plain = EpochSampler(5, shuffle=False)
    assert list(plain) == [0, 1, 2, 3, 4]


def test_random_crop_branch_keeps_boxes_consistent_with_pixels():
    """A white square on black: after any augmentation its box still frames the white pixels."""
    image = Image.new("RGB", (200, 160), (0, 0, 0))
    image.paste((255, 255, 255), (60, 40, 120, 100))
    transform = TrainTransform(ResolutionPreset("t", (96, 128), 200, (120, 140), 80, 110))
    for seed in range(20):
        x, t = transform(image, _target([[60, 40, 120, 100]]), random.Random(seed))
        if len(t["boxes"]) == 0:
            continue
        h, w = x.shape[1:]
        cx, cy, bw, bh = (t["boxes"][0] * torch.tensor([w, h, w, h])).tolist()
        bright = (x.mean(0) > 1.0).nonzero()  # normalised white > 1
        assert abs(bright[:, 1].min().item() - (cx - bw / 2)) <= 2
        assert abs(bright[:, 1].max().item() + 1 - (cx + bw / 2)) <= 2
        assert abs(bright[:, 0].min().item() - (cy - bh / 2)) <= 2
        assert abs(bright[:, 0].max().item() + 1 - (cy + bh / 2)) <= 2
