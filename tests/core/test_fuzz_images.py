"""Fuzzing the image decoder: corrupted images either decode to 8-bit RGB or are refused with one
line naming the file (an ImageError), never another exception, never a hang.

Seeds (small, 24x18): PNG in RGB, palette, 16-bit gray and RGBA; baseline and progressive JPEG (one
with an EXIF orientation); BMP, GIF, TIFF and WebP. Mutations, one to three per file: cut short,
bits flipped (anywhere or in the first 64 bytes, where the headers are), a run of bytes zeroed, the
declared width and height rewritten in the header (PNG with its CRC fixed, JPEG SOF, BMP, GIF) to
zero, to huge values (decompression bombs: a tiny file that declares gigapixels) or to anything in
between, or the file emptied. Each file goes through `image_size` (header only) and `load_image`.
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, strategies as st
from PIL import Image

from detr_core.errors import ImageError
from detr_core.images import image_size, load_image

from test_fuzz_helpers import check_answer, fuzz_settings, shared_worker


def _encode(image: Image.Image, format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


def seed_images() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (18, 24, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    gray16 = Image.fromarray((rng.integers(0, 65535, (18, 24))).astype(np.uint16))
    return {
        "rgb.png": _encode(rgb, "PNG"),
        "palette.png": _encode(rgb.convert("P"), "PNG"),
        "gray16.png": _encode(gray16, "PNG"),
        "rgba.png": _encode(rgb.convert("RGBA"), "PNG"),
        "base.jpg": _encode(rgb, "JPEG", quality=90),
        "progressive-exif.jpg": _encode(rgb, "JPEG", progressive=True, exif=exif.tobytes()),
        "rgb.bmp": _encode(rgb, "BMP"),
        "palette.gif": _encode(rgb.convert("P"), "GIF"),
        "rgb.tif": _encode(rgb, "TIFF"),
        "rgb.webp": _encode(rgb, "WEBP"),
    }


SEEDS = seed_images()


def set_size(raw: bytes, name: str, width: int, height: int) -> bytes:
    """`raw` with the width and height in its header replaced (unchanged for formats not handled)."""
    data = bytearray(raw)
    if name.endswith(".png"):
        data[16:24] = struct.pack(">II", width % 2**32, height % 2**32)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # a valid IHDR
    elif name.endswith(".jpg"):
        for marker in (b"\xff\xc0", b"\xff\xc2"):
            at = data.find(marker)
            if at >= 0:
                data[at + 5:at + 9] = struct.pack(">HH", height % 2**16, width % 2**16)
                break
    elif name.endswith(".bmp"):
        data[18:26] = struct.pack("<ii", width % 2**31, height % 2**31)
    elif name.endswith(".gif"):
        data[6:10] = struct.pack("<HH", width % 2**16, height % 2**16)
    return bytes(data)


sizes = st.sampled_from([0, 1, 7, 2**15, 65535, 100_000, 2**31 - 1]) | st.integers(0, 20_000)


@st.composite
def corrupted_image(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = SEEDS[name]
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["truncate", "flip", "flip-head", "zero", "size", "size", "empty"]))
        if how == "empty":
            data = b""
            break
        if how == "size":
            data = set_size(data, name, draw(sizes), draw(sizes))
            continue
        if not data:
            break
        if how == "truncate":
            data = data[:draw(st.integers(0, len(data) - 1))]
        elif how.startswith("flip"):
            buffer = bytearray(data)
            hi = min(len(buffer), 64) if how == "flip-head" else len(buffer)
            for _ in range(draw(st.integers(1, 6))):
                buffer[draw(st.integers(0, hi - 1))] ^= 1 << draw(st.integers(0, 7))
            data = bytes(buffer)
        else:
            at = draw(st.integers(0, len(data) - 1))
            data = data[:at] + bytes(min(draw(st.integers(1, 32)), len(data) - at)) + data[at + 32:]
    return name, data


@pytest.fixture(scope="module")
def worker():
    w = shared_worker()
    yield w
    print("\n" + w.summary("image"))


def test_every_seed_decodes(tmp_path):
    for name, raw in SEEDS.items():
        (tmp_path / name).write_bytes(raw)
        assert load_image(tmp_path / name).mode == "RGB", name
    assert load_image(tmp_path / "progressive-exif.jpg").size == (18, 24)  # orientation 6 applied


@fuzz_settings(150)
@given(case=corrupted_image())
def test_corrupted_images_decode_or_are_refused_in_one_line(tmp_path_factory, worker, case):
    name, raw = case
    path = tmp_path_factory.getbasetemp() / "fuzz images" / f"é {name}"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    check_answer(worker.load("image", path), path)


@pytest.mark.parametrize("name", ["rgb.png", "base.jpg", "rgb.bmp", "palette.gif"])
def test_a_header_declaring_gigapixels_is_refused_as_a_bomb(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(set_size(SEEDS[name], name, 65535 if name.endswith((".jpg", ".gif")) else 100_000,
                              65535 if name.endswith((".jpg", ".gif")) else 100_000))
    with pytest.raises(ImageError, match="decompression bomb|exceeds the limit") as info:
        load_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_png_whose_header_chunk_is_declared_too_short_is_refused_in_one_line(tmp_path):
    """Found by the long fuzz profile: PIL raised ValueError("Truncated IHDR chunk") from Image.open."""
    raw = bytearray(SEEDS["gray16.png"])
    raw[8:12] = struct.pack(">I", 5)  # IHDR length 5 instead of 13
    path = tmp_path / "short header.png"
    path.write_bytes(bytes(raw))
    for read in (image_size, load_image):
        with pytest.raises(ImageError, match="cannot open image") as info:
            read(path)
        assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
