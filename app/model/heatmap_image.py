"""Attention maps as QImages: colormap lookup tables and the upsampled, coloured picture.

A map is upsampled with `AttentionMaps.upsample` to a display size (at most DISPLAY_MAX_SIDE on
the long side, never the full resolution of a huge photo), scaled to 0..255 over its own
min..max, and wrapped in an 8-bit indexed QImage whose colour table is the colormap: no per-pixel
colour arithmetic in Python. The image covers the whole original image; `image_transform` maps
its pixels onto image pixels (the scene coordinates of the canvas).
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QImage, QTransform, qRgb

from detr_core.infer.heatmap import colormap as inferno

if TYPE_CHECKING:  # the maps come from the detector thread; torch is not imported here
    from detr_core.infer.attention_maps import AttentionMaps

DISPLAY_MAX_SIDE = 768  # the map has ~1/32 of the input's resolution; more pixels add nothing

# Control points of perceptual maps (matplotlib's viridis; Google's turbo), dark to bright.
_VIRIDIS = [(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142), (31, 158, 137),
            (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37)]
_TURBO = [(48, 18, 59), (70, 107, 227), (40, 187, 236), (49, 242, 153), (162, 252, 60), (237, 208, 58),
          (251, 128, 34), (208, 47, 5), (122, 4, 3)]
COLORMAPS = ("inferno", "viridis", "turbo", "gray")


def _ramp(points) -> np.ndarray:
    points = np.asarray(points, dtype=np.float32)
    x = np.linspace(0, len(points) - 1, 256)
    return np.stack([np.interp(x, np.arange(len(points)), points[:, c]) for c in range(3)], 1)


@lru_cache(maxsize=None)
def color_table(name: str) -> tuple[int, ...]:
    """256 qRgb values of colormap `name` (inferno if unknown)."""
    if name == "viridis":
        rgb = _ramp(_VIRIDIS)
    elif name == "turbo":
        rgb = _ramp(_TURBO)
    elif name == "gray":
        rgb = np.repeat(np.arange(256, dtype=np.float32)[:, None], 3, 1)
    else:
        rgb = inferno(np.linspace(0.0, 1.0, 256)[None, :])[0].astype(np.float32)
    rgb = rgb.round().clip(0, 255).astype(np.int64)
    return tuple(qRgb(int(r), int(g), int(b)) for r, g, b in rgb)


def display_size(image_size: tuple[int, int], max_side: int = DISPLAY_MAX_SIDE) -> tuple[int, int]:
    """(width, height) to render a map of an image of `image_size` at."""
    width, height = image_size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_indexed(values: np.ndarray, colormap: str = "inferno") -> QImage:
    """[H, W] floats -> an owned Indexed8 QImage, 0..255 over the array's own min..max."""
    values = np.asarray(values, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    scale = 255.0 / (high - low) if high > low else 0.0
    index = np.ascontiguousarray(((values - low) * scale).round().clip(0, 255).astype(np.uint8))
    height, width = index.shape
    image = QImage(index.data, width, height, width, QImage.Format.Format_Indexed8).copy()
    image.setColorTable(list(color_table(colormap)))
    return image


def render_map(maps: AttentionMaps, attention_map: np.ndarray, colormap: str = "inferno",
               smooth: bool = True, max_side: int = DISPLAY_MAX_SIDE) -> QImage:
    """A [h, w] feature-cell map as a picture covering the whole original image."""
    size = display_size(maps.image_size, max_side)
    return to_indexed(maps.upsample(attention_map, size=size, smooth=smooth), colormap)


def image_transform(picture: QImage, image_size: tuple[int, int]) -> QTransform:
    """Maps `picture`'s pixels onto the original image's pixels (scene coordinates)."""
    width, height = image_size
    return QTransform.fromScale(width / picture.width(), height / picture.height())
