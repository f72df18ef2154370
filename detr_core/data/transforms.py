"""Training augmentation as the reference DETR, with explicit randomness, and resolution presets.

Reference training transform (scaled by a resolution preset; `reference` is the original):
    horizontal flip (p=0.5), then with p=0.5 either
        resize shortest side to one of `scales` (longest side at most `max_size`), or
        resize to one of `crop_resize`, random crop of crop_min..crop_max per side, resize to `scales`
    then to tensor + ImageNet normalisation; boxes to cxcywh normalised by the final image size.
Evaluation uses `preprocess.preprocess` at (eval_size, max_size).

Every transform takes the `random.Random` it draws from, so a sample's augmentation is a pure
function of (seed, epoch, index): data-loader workers, resumed runs and distributed ranks all see
exactly the same images.

A target inside the transforms holds "boxes" [N, 4] xyxy in pixels of the current image and
"labels" [N] int64; anything else it holds is passed through.
"""
from __future__ import annotations

import random

import torch
from PIL import Image
from torch import Tensor

from ..infer.preprocess import resize_size, to_tensor
from .resolutions import (RESOLUTION_CHOICES, RESOLUTIONS, ResolutionPreset,  # noqa: F401 (names of this module)
                          resolution_for, resolution_preset)


# --- geometric transforms on (PIL image, target with xyxy pixel boxes) ---

def hflip(image: Image.Image, target: dict) -> tuple[Image.Image, dict]:
    w = image.width
    boxes = target["boxes"]  # [N, 4] xyxy
    flipped = boxes[:, [2, 1, 0, 3]] * torch.tensor([-1.0, 1, -1, 1]) + torch.tensor([w, 0.0, w, 0])
    return image.transpose(Image.FLIP_LEFT_RIGHT), {**target, "boxes": flipped}


def resize(image: Image.Image, target: dict, size: int, max_size: int | None) -> tuple[Image.Image, dict]:
    """Shortest side to `size` (longest at most `max_size`), PIL bilinear, boxes scaled."""
    height, width = resize_size(image.width, image.height, size, max_size)
    if (width, height) == image.size:
        return image, target
    sx, sy = width / image.width, height / image.height
    boxes = target["boxes"] * torch.tensor([sx, sy, sx, sy])
    return image.resize((width, height), Image.BILINEAR), {**target, "boxes": boxes}


def crop(image: Image.Image, target: dict, top: int, left: int, height: int, width: int
         ) -> tuple[Image.Image, dict]:
    """Cut out a region; boxes are clipped to it and those left with no width or height dropped."""
    boxes = target["boxes"] - torch.tensor([left, top, left, top], dtype=torch.float32)
    boxes = torch.min(boxes.reshape(-1, 2, 2), torch.tensor([width, height], dtype=torch.float32))
    boxes = boxes.clamp(min=0)  # [N, 2, 2]
    keep = (boxes[:, 1, :] > boxes[:, 0, :]).all(dim=1)
    out = {**target, "boxes": boxes.reshape(-1, 4)[keep], "labels": target["labels"][keep]}
    return image.crop((left, top, left + width, top + height)), out


class TrainTransform:
    """The reference training augmentation at one resolution (see the module docstring)."""

    def __init__(self, res: ResolutionPreset, flip: bool = True):
        self.res = res
        self.flip = flip

    def __call__(self, image: Image.Image, target: dict, rng: random.Random) -> tuple[Tensor, dict]:
        res = self.res
        if self.flip and rng.random() < 0.5:
            image, target = hflip(image, target)
        if rng.random() < 0.5:
            image, target = resize(image, target, rng.choice(res.scales), res.max_size)
        else:
            image, target = resize(image, target, rng.choice(res.crop_resize), None)
            w = rng.randint(min(res.crop_min, image.width), min(image.width, res.crop_max))
            h = rng.randint(min(res.crop_min, image.height), min(image.height, res.crop_max))
            top = rng.randint(0, image.height - h)
            left = rng.randint(0, image.width - w)
            image, target = crop(image, target, top, left, h, w)
            image, target = resize(image, target, rng.choice(res.scales), res.max_size)
        return finish(image, target)


class ResizeTransform:
    """Training without scales or crops (`TrainConfig.augment = "resize"`): every image at the
    evaluation size, flipped at random if `flip`. For runs that can only memorise their images
    (from scratch on a handful): the reference augmentation makes them learn several times slower."""

    def __init__(self, res: ResolutionPreset, flip: bool = True):
        self.res = res
        self.flip = flip

    def __call__(self, image: Image.Image, target: dict, rng: random.Random) -> tuple[Tensor, dict]:
        if self.flip and rng.random() < 0.5:
            image, target = hflip(image, target)
        return finish(*resize(image, target, self.res.eval_size, self.res.max_size))


class EvalTransform:
    """The reference evaluation transform: resize to (size, max_size), nothing random."""

    def __init__(self, size: int, max_size: int):
        self.size = size
        self.max_size = max_size

    def __call__(self, image: Image.Image, target: dict, rng: random.Random | None = None
                 ) -> tuple[Tensor, dict]:
        return finish(*resize(image, target, self.size, self.max_size))


def finish(image: Image.Image, target: dict) -> tuple[Tensor, dict]:
    """-> ([3, h, w] normalised, target with "boxes" [N, 4] cxcywh normalised to (w, h) and
    "size" [2] = (h, w))."""
    w, h = image.size
    x0, y0, x1, y1 = target["boxes"].unbind(-1)
    boxes_cxcywh = torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dim=-1)
    boxes_cxcywh = boxes_cxcywh / torch.tensor([w, h, w, h], dtype=torch.float32)
    out = {**target, "boxes": boxes_cxcywh.reshape(-1, 4), "size": torch.tensor([h, w])}
    return to_tensor(image), out
