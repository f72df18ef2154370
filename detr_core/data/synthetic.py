"""A deterministic synthetic detection dataset that a small DETR learns from scratch on a CPU.

Five classes of flat shapes, each with its own form and colour family (hue, saturation and value
jittered), 1-6 per image, 12-40 % of the shorter image side, rotated, on varied backgrounds
(gradients, blurred noise, stripes, checkerboards, smooth "plasma"), images 288-384 x 256-320
pixels, anti-aliased, saved as JPEG with a COCO instances file (category ids 1..5). Objects overlap
by at most a little (IoU <= 0.1), so every box is visible.

Image `i` of a split depends only on (seed, i): any prefix of a larger set is the smaller set.

The shifted domain (`domain="shifted"`, for measuring fine-tuning): the same five shapes plus two
new classes (hexagon, arrow), drawn filled or as thick outlines, on other backgrounds (bright
pastel washes, dark fields with bright specks, clutter of small muted rectangles).

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
SHIFTED_CLASSES = CLASSES + ("hexagon", "arrow")
DOMAINS = ("shapes", "shifted")
_HUES = {"circle": 0, "square": 215, "triangle": 120, "star": 50, "cross": 290, "hexagon": 175, "arrow": 25}
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


def _shifted_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """[H, W, 3] float32: backgrounds the demo model never saw."""
    kind = rng.integers(3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 0:  # bright pastel wash
        base = rng.uniform(180, 250, size=3)
        t = (np.sin(xx * rng.uniform(0.01, 0.04) + yy * rng.uniform(0.01, 0.04)) + 1)[..., None] / 2
        img = base - 35 * t
    elif kind == 1:  # dark field with bright specks
        img = np.broadcast_to(rng.uniform(5, 45, size=3), (height, width, 3)).copy()
        specks = rng.random((height, width)) < 0.01
        img[specks] = rng.uniform(150, 255)
    else:  # clutter: small muted rectangles
        img = np.broadcast_to(rng.uniform(60, 160, size=3), (height, width, 3)).copy()
        for _ in range(int(rng.integers(20, 60))):
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
            w, h = int(rng.integers(4, 24)), int(rng.integers(4, 24))
            grey = rng.uniform(40, 200)
            img[y0:y0 + h, x0:x0 + w] = grey + rng.uniform(-15, 15, size=3)
    img = img + rng.normal(0, 4, size=img.shape)
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
    elif kind == "hexagon":
        points = [(math.cos(k * math.pi / 3), math.sin(k * math.pi / 3)) for k in range(6)]
    elif kind == "arrow":  # pointing right: a shaft and a head
        raw = [(-1.0, -0.25), (0.2, -0.25), (0.2, -0.7), (1.0, 0.0), (0.2, 0.7), (0.2, 0.25), (-1.0, 0.25)]
        points = raw
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


def make_image(seed: int, index: int, domain: str = "shapes") -> tuple[Image.Image, list[tuple[int, list[float]]]]:
    """Image `index` of the set `seed`: (RGB image, [(class index, [x, y, w, h] pixels)]);
    `domain` "shifted": the shifted domain's classes and backgrounds (see the module docstring)."""
    assert domain in DOMAINS, f"unknown domain {domain!r}"
    shifted = domain == "shifted"
    classes = SHIFTED_CLASSES if shifted else CLASSES
    rng = np.random.default_rng([seed, index] + ([7] if shifted else []))
    width, height = int(rng.integers(288, 385)), int(rng.integers(256, 321))
    background = (_shifted_background if shifted else _background)(rng, width, height)
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
        label = int(rng.integers(len(classes)))
        kind = classes[label]
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
        outline = [(x * s, y * s) for x, y in points]
        if shifted and rng.random() < 0.4:  # a thick outline instead of a fill
            colour = _colour(rng, _HUES[kind])
            draw.line(outline + outline[:1], fill=colour, width=max(2, int(0.12 * r * s)), joint="curve")
        else:
            draw.polygon(outline, fill=_colour(rng, _HUES[kind]))
        boxes.append(box)
        objects.append((label, [round(box[0], 2), round(box[1], 2), round(box[2] - box[0], 2),
                                round(box[3] - box[1], 2)]))
    image = canvas.resize((width, height), Image.LANCZOS)
    return image, objects


def write_dataset(out_dir: str | Path, images: int, seed: int, name: str = "synthetic",
                  quality: int = 92, domain: str = "shapes") -> Path:
    """Write `images` images and annotations.json (COCO instances) under `out_dir`."""
    classes = SHIFTED_CLASSES if domain == "shifted" else CLASSES
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    coco = {"info": {"description": f"DETR Workbench synthetic shapes ({name}, seed {seed})",
                     "version": "1"},
            "images": [], "annotations": [],
            "categories": [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(classes)]}
    for i in range(images):
        image, objects = make_image(seed, i, domain)
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
    parser.add_argument("--domain", choices=DOMAINS, default="shapes",
                        help="shifted: two new classes, outlines, other backgrounds")
    args = parser.parse_args(argv)
    path = write_dataset(args.out_dir, args.images, args.seed, args.name, domain=args.domain)
    print(f"wrote {args.images} images and {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
