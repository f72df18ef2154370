"""Attention maps of one image, and how they map onto its pixels.

Feature cell (i, j) of the map covers the resized input pixels [j*stride, (j+1)*stride) x
[i*stride, (i+1)*stride) (clipped to the image), which are `scale` original pixels each: so the
map's extent in original image pixels is (w * stride * scale_x, h * stride * scale_y), starting at
the top-left corner, slightly past the right/bottom edge when the input size is not a multiple of
the stride.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class AttentionMaps:
    decoder: np.ndarray  # [Q, h, w] last decoder layer's cross-attention, mean over heads
    encoder: np.ndarray | None  # [h*w, h, w] last encoder layer's self-attention, mean over heads
    image_size: tuple[int, int]  # (width, height) of the original image (after EXIF orientation)
    input_size: tuple[int, int]  # (height, width) of the resized model input
    stride: int  # resized-input pixels per feature cell (32, or 16 for DC5)
    decoder_layers: np.ndarray | None = None  # [L, heads, Q, h, w] every layer and head ("all")
    encoder_layers: np.ndarray | None = None  # [L, heads, h*w, h, w] every layer and head ("all")

    @property
    def feature_size(self) -> tuple[int, int]:
        """(h, w) of the feature map."""
        return self.decoder.shape[1], self.decoder.shape[2]

    @property
    def scale(self) -> tuple[float, float]:
        """(sx, sy): original pixels per resized-input pixel."""
        width, height = self.image_size
        in_h, in_w = self.input_size
        return width / in_w, height / in_h

    @property
    def extent(self) -> tuple[float, float]:
        """(width, height) in original pixels covered by the map, from the top-left corner."""
        h, w = self.feature_size
        sx, sy = self.scale
        return w * self.stride * sx, h * self.stride * sy

    def cell_at(self, x: float, y: float) -> tuple[int, int]:
        """(row, column) of the feature cell holding original pixel (x, y), clamped to the map."""
        h, w = self.feature_size
        sx, sy = self.scale
        row = int(y / sy // self.stride)
        col = int(x / sx // self.stride)
        return min(max(row, 0), h - 1), min(max(col, 0), w - 1)

    def encoder_at(self, x: float, y: float) -> np.ndarray:
        """[h, w]: where the encoder location holding original pixel (x, y) attends."""
        if self.encoder is None:
            raise ValueError("encoder attention was not computed for this image")
        row, col = self.cell_at(x, y)
        return self.encoder[row * self.feature_size[1] + col]

    def upsample(self, attention_map: np.ndarray, size: tuple[int, int] | None = None,
                 smooth: bool = True) -> np.ndarray:
        """[h, w] feature-cell map -> [H, W] over the original image (or `size` = (width, height),
        the same image at another resolution): each cell painted over the pixels it covers,
        bilinearly blended between cell centres when `smooth`."""
        width, height = size or self.image_size
        h, w = self.feature_size
        in_h, in_w = self.input_size
        tensor = torch.from_numpy(np.ascontiguousarray(attention_map, dtype=np.float32))[None, None]
        # Cover the padded input (h*stride x w*stride), then keep the part over the image.
        full_h, full_w = h * self.stride, w * self.stride
        out_h = max(1, round(height * full_h / in_h))
        out_w = max(1, round(width * full_w / in_w))
        mode = "bilinear" if smooth else "nearest"
        kwargs = {"align_corners": False} if smooth else {}
        up = F.interpolate(tensor, size=(out_h, out_w), mode=mode, **kwargs)[0, 0]
        return up[:height, :width].numpy()
