"""The reference evaluation resize and normalisation constants, without torch: shared by the
PyTorch preprocessing (`preprocess.py`) and the torch-free ONNX runner (`onnx_runner.py`)."""
from __future__ import annotations

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_size(width: int, height: int, min_size: int, max_size: int | None) -> tuple[int, int]:
    """(height, width) after the reference resize of a width x height image: shortest side
    `min_size`, unless the longest side would pass `max_size`."""
    size = min_size
    if max_size is not None:
        min_original = float(min(width, height))
        max_original = float(max(width, height))
        if max_original / min_original * size > max_size:
            size = int(round(max_size * min_original / max_original))
    if (width <= height and width == size) or (height <= width and height == size):
        return height, width
    if width < height:
        return int(size * height / width), size
    return size, int(size * width / height)
