"""A deterministic synthetic detection dataset that a small DETR learns from scratch on a CPU.

Five classes of flat shapes, each with its own form and colour family (hue, saturation and value
jittered), 1-6 per image, 12-40 % of the shorter image side, rotated, on varied backgrounds
(gradients, blurred noise, stripes, checkerboards, smooth "plasma"), images 288-384 x 256-320
pixels, anti-aliased, saved as JPEG with a COCO instances file (category ids 1..5). Objects overlap
by at most a little (IoU <= 0.1), so every box is visible.

Image `i` of a split depends only on (seed, i): any prefix of a larger set is the smaller set.

    python -m detr_core.data.synthetic OUT_DIR --images 4000 --seed 1 [--name train]
writes OUT_DIR/images/*.jpg and OUT_DIR/annotations.json.
"""
from __future__ import annotations

import argparse
import colorsys
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..atomic import atomic_write_json

CLASSES = ("circle", "square", "triangle", "star", "cross")
_HUES = {"circle": 0, "square": 215, "triangle": 120, "star": 50, "cross": 290}
_SUPERSAMPLE = 3  # draw at 3x, then downsample: smooth edges
_MAX_IOU = 0.1


def _colour(rng: np.random.Generator, hue: float) -> tuple[int, int, int]:
    h = ((hue + rng.uniform(-14, 14)) % 360) / 360
    r, g, b = colorsys.hsv_to_rgb(h, rng.uniform(0.7, 1.0), rng.uniform(0.75, 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """[H, W, 3] float32 in 0..255, mostly muted so the objects' saturated colours stand out."""
    kind = rng.integers(5)
    base = rng.uniform(30, 220, size=3)
    other = np.clip(base + rng.uniform(-90, 90, size=3), 0, 255)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 0:  # linear gradient between two colours
        angle = rng.uniform(0, 2 * math.pi)
        t = xx * math.cos(angle) + yy * math.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        img = base * (1 - t[..., None]) + other * t[..., None]
    elif kind == 1:  # blurred noise
        noise = rng.normal(0, 1, size=(height, width, 3)).astype(np.float32)
        blurred = np.asarray(Image.fromarray(np.uint8(np.clip(noise * 40 + 128, 0, 255)))
                             .filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 4))), dtype=np.float32)
        img = base + (blurred - 128) * rng.uniform(0.6, 1.6)
    elif kind == 2:  # stripes
        angle = rng.uniform(0, math.pi)
        period = rng.uniform(8, 40)
        t = (np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period) + 1) / 2
        img = base * (1 - t[..., None]) + other * t[..., None]
    elif kind == 3:  # checkerboard
        cell = rng.integers(8, 40)
        t = ((xx // cell + yy // cell) % 2)[..., None]
        img = base * (1 - t) + other * t
    else:  # plasma: a few low-frequency waves
        t = np.zeros_like(xx)
        for _ in range(4):
            fx, fy = rng.uniform(-0.05, 0.05, size=2)
            t += np.sin(xx * fx + yy * fy + rng.uniform(0, 2 * math.pi))
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        img = base * (1 - t[..., None]) + other * t[..., None]
    # Fine grain everywhere: no background is perfectly flat.
    img = img + rng.normal(0, rng.uniform(2, 10), size=img.shape)
    # Keep backgrounds muted: pull towards grey.
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(0.2, 0.7)
    return np.clip(img, 0, 255).astype(np.float32)


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Vertices of a shape of circumradius r centred at (cx, cy), rotated by `angle`."""
    if kind == "circle":
        points = [(math.cos(2 * math.pi * k / 64), math.sin(2 * math.pi * k / 64)) for k in range(64)]
        angle = 0.0
    elif kind == "square":
        points = [(math.cos(math.pi / 4 + k * math.pi / 2), math.sin(math.pi / 4 + k * math.pi / 2))
                  for k in range(4)]
    elif kind == "triangle":
        points = [(math.cos(-math.pi / 2 + k * 2 * math.pi / 3), math.sin(-math.pi / 2 + k * 2 * math.pi / 3))
                  for k in range(3)]
    elif kind == "star":
        points = [((1.0 if k % 2 == 0 else 0.45) * math.cos(-math.pi / 2 + k * math.pi / 5),
                   (1.0 if k % 2 == 0 else 0.45) * math.sin(-math.pi / 2 + k * math.pi / 5)) for k in range(10)]
    else:  # cross: a plus sign with arms a third as wide as the shape
        a, b = 0.3, 1.0
        raw = [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a), (-b, a),
               (-b, -a), (-a, -a)]
        points = [(x / math.hypot(b, a), y / math.hypot(b, a)) for x, y in raw]
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in points]


def _iou(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def make_image(seed: int, index: int) -> tuple[Image.Image, list[tuple[int, list[float]]]]:
    """Image `index` of the set `seed`: (RGB image, [(class index, [x, y, w, h] pixels)])."""
    rng = np.random.default_rng([seed, index])
    width, height = int(rng.integers(288, 385)), int(rng.integers(256, 321))
    background = _background(rng, width, height)
    s = _SUPERSAMPLE
    canvas = Image.fromarray(np.uint8(background)).resize((width * s, height * s), Image.NEAREST)
    draw = ImageDraw.Draw(canvas)
    objects: list[tuple[int, list[float]]] = []
    boxes: list[tuple] = []
    wanted = int(rng.integers(1, 7))
    short = min(width, height)
    for _ in range(wanted * 20):  # placement attempts
        if len(objects) == wanted:
            break
        label = int(rng.integers(len(CLASSES)))
        kind = CLASSES[label]
        size = rng.uniform(0.12, 0.40) * short  # the shape's bounding extent, roughly
        r = size / 2
        angle = rng.uniform(0, 2 * math.pi)
        cx, cy = rng.uniform(r * 0.6, width - r * 0.6), rng.uniform(r * 0.6, height - r * 0.6)
        points = _polygon(kind, cx, cy, r, angle)
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        box = (max(min(xs), 0.0), max(min(ys), 0.0), min(max(xs), width), min(max(ys), height))
        if box[2] - box[0] < 0.08 * short or box[3] - box[1] < 0.08 * short:
            continue  # mostly outside the image
        if any(_iou(box, other) > _MAX_IOU for other in boxes):
            continue
        draw.polygon([(x * s, y * s) for x, y in points], fill=_colour(rng, _HUES[kind]))
        boxes.append(box)
        objects.append((label, [round(box[0], 2), round(box[1], 2), round(box[2] - box[0], 2),
                                round(box[3] - box[1], 2)]))
    image = canvas.resize((width, height), Image.LANCZOS)
    return image, objects


def write_dataset(out_dir: str | Path, images: int, seed: int, name: str = "synthetic",
                  quality: int = 92) -> Path:
    """Write `images` images and annotations.json (COCO instances) under `out_dir`."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    coco = {"info": {"description": f"DETR Workbench synthetic shapes ({name}, seed {seed})",
                     "version": "1"},
            "images": [], "annotations": [],
            "categories": [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(CLASSES)]}
    for i in range(images):
        image, objects = make_image(seed, i)
        file_name = f"{name}_{i:05d}.jpg"
        image.save(out_dir / "images" / file_name, quality=quality)
        coco["images"].append({"id": i + 1, "file_name": file_name, "width": image.width, "height": image.height})
        for label, bbox in objects:
            coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": i + 1,
                                        "category_id": label + 1, "bbox": bbox,
                                        "area": round(bbox[2] * bbox[3], 2), "iscrowd": 0})
    path = out_dir / "annotations.json"
    atomic_write_json(path, coco)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m detr_core.data.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default="synthetic", help="file name prefix")
    args = parser.parse_args(argv)
    path = write_dataset(args.out_dir, args.images, args.seed, args.name)
    print(f"wrote {args.images} images and {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
