"""The reference evaluation transform: resize (shortest side `min_size`, longest at most
`max_size`, PIL bilinear), to float in [0, 1], ImageNet normalisation; then padding into a batch."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .resize import IMAGENET_MEAN, IMAGENET_STD, resize_size

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "batch_images", "preprocess", "resize_size", "to_tensor"]


def to_tensor(image: Image.Image) -> Tensor:
    """8-bit RGB PIL image -> [3, H, W] normalised float32."""
    array = np.asarray(image, dtype=np.float32) / 255.0  # [H, W, 3]
    tensor = torch.from_numpy(array).permute(2, 0, 1)  # [3, H, W]
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((tensor - mean) / std).contiguous()


def preprocess(image: Image.Image, min_size: int = 800, max_size: int = 1333) -> Tensor:
    """RGB PIL image -> [3, h, w] resized and normalised, as the reference evaluation transform."""
    height, width = resize_size(image.width, image.height, min_size, max_size)
    if (height, width) != (image.height, image.width):
        image = image.resize((width, height), Image.BILINEAR)
    return to_tensor(image)


def batch_images(tensors: list[Tensor]) -> tuple[Tensor, Tensor]:
    """[3, h_i, w_i] each -> images [B, 3, H, W] zero-padded bottom/right, mask [B, H, W]
    (True = padding)."""
    assert tensors, "batch_images needs at least one image"
    H = max(t.shape[1] for t in tensors)
    W = max(t.shape[2] for t in tensors)
    B = len(tensors)
    images = tensors[0].new_zeros(B, 3, H, W)
    mask = torch.ones(B, H, W, dtype=torch.bool, device=tensors[0].device)
    for i, t in enumerate(tensors):
        images[i, :, : t.shape[1], : t.shape[2]] = t
        mask[i, : t.shape[1], : t.shape[2]] = False
    return images, mask
