"""Preprocessing equals the reference evaluation transform (torchvision on PIL)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from detr_core.infer.preprocess import batch_images, preprocess, resize_size


@pytest.mark.parametrize("size,expected", [
    ((640, 480), (800, 1066)),  # (w, h) -> (h, w)
    ((480, 640), (1066, 800)),
    ((800, 800), (800, 800)),
    ((4000, 1000), (333, 1332)),  # long side capped (int(), as the reference)
    ((1000, 4000), (1332, 333)),
    ((1066, 800), (800, 1066)),  # already the right size: unchanged
])
def test_resize_sizes(size, expected):
    assert resize_size(*size, 800, 1333) == expected


def test_matches_torchvision_reference_transform(shared_data):
    image = Image.open(shared_data / "images" / "coco_val2017_000000397133.jpg").convert("RGB")
    ours = preprocess(image, 800, 1333)
    h, w = resize_size(image.width, image.height, 800, 1333)
    reference = T.Compose([T.Resize((h, w)), T.ToTensor(),
                           T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])(image)
    assert ours.shape == reference.shape == (3, 800, 1199)
    torch.testing.assert_close(ours, reference, atol=1e-6, rtol=0)


def test_small_sizes_are_configurable():
    image = Image.fromarray(np.zeros((300, 500, 3), np.uint8))
    assert preprocess(image, 256, 416).shape == (3, 250, 416)


def test_batch_padding_and_mask():
    a, b = torch.ones(3, 4, 6), torch.ones(3, 5, 3)
    images, mask = batch_images([a, b])
    assert images.shape == (2, 3, 5, 6) and mask.shape == (2, 5, 6)
    assert not mask[0, :4, :].any() and mask[0, 4:, :].all()
    assert not mask[1, :, :3].any() and mask[1, :, 3:].all()
    assert images[0, :, 4:].abs().sum() == 0
