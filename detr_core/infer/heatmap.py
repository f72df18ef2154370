"""Attention maps as pictures (no Qt): a colormap and an overlay on the image."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# Control points of a perceptually ordered dark-to-bright map (close to matplotlib's "inferno").
_INFERNO = np.array([
    [0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99],
    [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164],
], dtype=np.float32)


def colormap(values: np.ndarray) -> np.ndarray:
    """[H, W] floats -> [H, W, 3] uint8, normalised to the map's own min..max."""
    v = values.astype(np.float32)
    lo, hi = float(v.min()), float(v.max())
    v = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    position = v * (len(_INFERNO) - 1)
    index = np.clip(position.astype(np.int64), 0, len(_INFERNO) - 2)
    frac = (position - index)[..., None]
    return (_INFERNO[index] * (1 - frac) + _INFERNO[index + 1] * frac).round().astype(np.uint8)


def overlay(image: Image.Image, heat: np.ndarray, opacity: float = 0.6,
            box_xyxy: tuple[float, float, float, float] | None = None, label: str | None = None) -> Image.Image:
    """The image with `heat` ([H, W], same size) blended over it, and optionally a box."""
    colored = Image.fromarray(colormap(heat), "RGB")
    out = Image.blend(image.convert("RGB"), colored, opacity)
    if box_xyxy is not None:
        draw = ImageDraw.Draw(out)
        draw.rectangle(box_xyxy, outline=(0, 255, 0), width=max(2, image.width // 300))
        if label:
            draw.text((box_xyxy[0] + 3, box_xyxy[1] + 2), label, fill=(0, 255, 0))
    return out
