"""Reading images: one orientation rule and one colour rule for the detector, training and the GUI.

Every consumer calls `load_image`, so a box drawn in the workbench, a box used in training and a
box predicted by the detector always refer to the same pixels: EXIF orientation is applied, then
the image is converted to 8-bit RGB.
"""
from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DatasetError, ImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MAX_PIXELS = 250_000_000  # refuse anything bigger: a decompression bomb, or not a photo
_ORIENTATION_TAG = 0x0112
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(root: str | os.PathLike) -> list[Path]:
    """Every image file under `root`, recursively, sorted by path: the one listing rule, shared by
    `detect DIR` and opening a folder in the workbench. A file is returned as is.

    - an image is a file whose extension, in any case, is one of IMAGE_EXTENSIONS;
    - hidden entries (names starting with ".": `.git/`, `.thumbnails/`, macOS `._x.jpg`) are skipped;
    - a symbolic link to an image file is listed (by the link's path); a link to a folder is not
      followed (no cycles, no image listed twice); a broken link is skipped;
    - file types come from the directory entries (no stat per file: 10,000 files on a network drive).
    Raises DatasetError naming the folder when `root` is missing or cannot be read; a subfolder
    that cannot be read is skipped."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DatasetError(f"{root}: no such file or folder")
    found: list[Path] = []
    pending = [str(root)]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS and entry.is_file():
                        found.append(Path(entry.path))
        except OSError as e:
            if current == str(root):
                raise DatasetError(f"{root}: cannot read this folder ({e.strerror or e})") from None
    return sorted(found)


def _open(path: Path, max_pixels: int) -> Image.Image:
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path}: image too large to decode safely (decompression bomb?)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file, or a format that cannot be read") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as e:  # a broken header
        raise ImageError(f"{path}: cannot open image ({e})") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError(f"{path}: image has zero size ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            f"{path}: image of {width}x{height} pixels exceeds the limit of {max_pixels:,} "
            "(decompression bomb?)"
        )
    return image


def _exif_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block must not make the image unreadable
        return 1


def image_size(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) as shown, after EXIF orientation, read from the header only (fast)."""
    path = Path(path)
    with _open(path, max_pixels) as image:
        width, height = image.size
        if _exif_orientation(image) in _TRANSPOSED_ORIENTATIONS:
            width, height = height, width
    return width, height


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB: grayscale, palette, RGBA, CMYK, 16-bit and float."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        array = np.asarray(image, dtype=np.float64)
        if mode == "F" and array.size and np.nanmax(array) <= 1.0:
            scale = 255.0  # float images in [0, 1]
        elif array.size and np.nanmax(array) > 255:
            scale = 255.0 / 65535.0  # 16-bit data
        else:
            scale = 1.0
        gray = np.clip(np.nan_to_num(array) * scale, 0, 255).round().astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def load_image(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode `path` into an 8-bit RGB PIL image with its EXIF orientation applied.

    Raises ImageError with a one-line message naming the file for anything that is not a
    readable, non-empty image of sane size.
    """
    path = Path(path)
    image = _open(path, max_pixels)
    try:
        with image:
            image.load()
            oriented = ImageOps.exif_transpose(image) if _exif_orientation(image) != 1 else image
            rgb = to_rgb(oriented)
            if rgb is image:
                rgb = image.copy()  # detach from the file handle closed by `with`
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
        raise ImageError(f"{path}: corrupt or truncated image ({e})") from None
    return rgb


def prepare_image(image: Image.Image) -> Image.Image:
    """The same rule for a PIL image that is already open (orientation, then RGB)."""
    if _exif_orientation(image) != 1:
        image = ImageOps.exif_transpose(image)
    return to_rgb(image)
