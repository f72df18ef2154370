"""Decoding: one orientation and colour rule, and one-line errors for every kind of bad file."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from detr_core.errors import ImageError
from detr_core.images import image_size, list_images, load_image


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


def test_modes_become_8bit_rgb(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    cases = {
        "gray.png": Image.fromarray(rgb[..., 0], "L"),
        "la.png": Image.fromarray(rgb[..., 0], "L").convert("LA"),
        "palette.png": Image.fromarray(rgb).convert("P"),
        "rgba.png": Image.fromarray(rgb).convert("RGBA"),
        "cmyk.jpg": Image.fromarray(rgb).convert("CMYK"),
        "bw.bmp": Image.fromarray(rgb[..., 0] > 128),
        "rgb.webp": Image.fromarray(rgb),
        "rgb.tif": Image.fromarray(rgb),
    }
    for name, img in cases.items():
        out = load_image(_save(img, tmp_path / name))
        assert out.mode == "RGB" and out.size == (30, 20), name
    transparent = Image.fromarray(rgb).convert("P")
    transparent.info["transparency"] = 0
    assert load_image(_save(transparent, tmp_path / "t.png", transparency=0)).mode == "RGB"


def test_16bit_images_are_scaled_not_clipped(tmp_path):
    ramp = (np.arange(64 * 16, dtype=np.uint16).reshape(16, 64) * 64).astype(np.uint16)  # 0..65472
    path = _save(Image.fromarray(ramp), tmp_path / "deep.png")
    out = np.asarray(load_image(path))
    assert out.shape == (16, 64, 3)
    assert out[..., 0].max() >= 250 and out[..., 0].min() == 0
    assert len(np.unique(out[..., 0])) > 200, "16-bit range must map onto 0..255, not clip at 255"


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), "white")
    img.paste((255, 0, 0), (0, 0, 10, 10))  # red top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif.tobytes(), quality=100)
    assert image_size(path) == (20, 40)
    out = load_image(path)
    assert out.size == (20, 40)
    r, g, b = out.getpixel((15, 3))  # red ends up at the top-right
    assert r > 200 and g < 60


@pytest.mark.parametrize("content,match", [
    (b"", "empty file"),
    (b"hello, I am text\n" * 10, "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "cannot open|not an image|corrupt"),
])
def test_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=match) as info:
        load_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "full.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(path)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ImageError, match="corrupt or truncated") as info:
        load_image(cut)
    assert str(cut) in str(info.value)


def _png_with_size(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_zero_size_and_bombs(tmp_path):
    zero = tmp_path / "zero.png"
    zero.write_bytes(_png_with_size(0, 10))
    with pytest.raises(ImageError, match="zero size|cannot open|not an image"):
        load_image(zero)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_with_size(100_000, 100_000))  # a 10-gigapixel header, a tiny file
    with pytest.raises(ImageError, match="decompression bomb") as info:
        load_image(bomb)
    assert str(bomb) in str(info.value)
    small = _save(Image.new("RGB", (50, 50)), tmp_path / "small.png")
    with pytest.raises(ImageError, match="exceeds the limit"):
        load_image(small, max_pixels=100)


def test_missing_and_folder(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_list_images_recursive(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/1.JPG", "a/b/2.png", "3.webp", "notes.txt", "a/b/4.tiff"):
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert found == ["3.webp", "a/1.JPG", "a/b/2.png", "a/b/4.tiff"]
