"""`detr-workbench detect`: run a detector over images and folders, write COCO results."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..errors import ImageError, WorkbenchError
from . import detect_shards


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect objects in images and folders",
                       description="Run a DETR checkpoint over images (folders are searched "
                                   "recursively) and write COCO detection results.")
    p.add_argument("inputs", nargs="+", metavar="IMAGES_OR_FOLDERS")
    p.add_argument("--checkpoint", "-c", required=True,
                   help="project .pth, official .pth, Hugging Face folder, or detr-r50 | detr-r101 | "
                        "detr-r50-dc5 | detr-r101-dc5")
    p.add_argument("--threshold", type=float, default=0.7, help="minimum score (default 0.7)")
    p.add_argument("--topk", type=int, default=None, help="at most this many detections per image")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", default="fp32", help="fp32, bf16, fp16 or reduced")
    p.add_argument("--min-size", type=int, default=None, help="resize: shortest side (model's default)")
    p.add_argument("--max-size", type=int, default=None, help="resize: longest side at most")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--out", "-o", type=Path, default=None, help="results JSON (default: stdout)")
    p.add_argument("--attention-dir", type=Path, default=None,
                   help="write each image's cross-attention maps (.npz) and a picture of them (.png)")
    detect_shards.add_arguments(p)  # --engine, --out-dir, --shard, --keep-low-scores
    p.set_defaults(func=run)


def _collect(inputs: list[str]) -> tuple[list[tuple[Path, str]], list[str]]:
    """Images to run as (path, file_name relative to the folder given), and errors."""
    from ..images import is_image_file, list_images

    found, errors = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images = list_images(path)
            if not images:
                errors.append(f"{path}: no images found (jpg, png, bmp, tif, webp)")
            found += [(p, p.relative_to(path).as_posix()) for p in images]
        elif path.is_file():
            if not is_image_file(path):
                errors.append(f"{path}: not an image file name (jpg, png, bmp, tif, webp)")
            found.append((path, path.name))
        else:
            errors.append(f"{path}: no such file or folder")
    return found, errors


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..atomic import atomic_write_json
    from ..images import load_image
    from .engines import open_detector

    images, errors = _collect(args.inputs)
    for message in errors:
        print(f"detr-workbench detect: error: {message}", file=sys.stderr)
    if not images:
        return 1
    if args.batch_size < 1:
        raise WorkbenchError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.out_dir is not None or args.shard is not None:
        return detect_shards.run_sharded(args, images) or (1 if errors else 0)
    if args.keep_low_scores:
        args.threshold, args.topk = 0.0, None
    detector = open_detector(args)  # the Detector, or the OnnxDetector for --engine onnx
    print(f"detr-workbench detect: {detector.description} on {detector.device}", file=sys.stderr)
    if args.attention_dir:
        args.attention_dir.mkdir(parents=True, exist_ok=True)
    category_ids = _category_ids(detector)
    results, failed = [], 0
    bar = tqdm(total=len(images), unit="img", desc="detect", disable=None, file=sys.stderr)
    for start in range(0, len(images), args.batch_size):
        chunk = list(enumerate(images[start:start + args.batch_size], start=start + 1))
        decoded = []
        for image_id, (path, name) in chunk:
            try:
                decoded.append((image_id, name, load_image(path)))
            except ImageError as e:
                failed += 1
                tqdm.write(f"detr-workbench detect: error: {e}", file=sys.stderr)
        if decoded:
            outputs = detector.detect([im for _, _, im in decoded], attention=bool(args.attention_dir))
            for (image_id, name, image), det in zip(decoded, outputs):
                results += det.to_coco(image_id, name, args.threshold, args.topk, category_ids)
                if args.attention_dir:
                    _write_attention(args.attention_dir, name, image, det, args.threshold)
        bar.update(len(chunk))
    bar.close()
    if args.out:
        try:
            atomic_write_json(args.out, results)
        except OSError as e:
            raise WorkbenchError(f"{args.out}: cannot write results ({e.strerror or e})") from None
        print(f"detr-workbench detect: {len(results)} detections in {len(images) - failed} images "
              f"written to {args.out}", file=sys.stderr)
    else:
        import json

        json.dump(results, sys.stdout)
        sys.stdout.write("\n")
    return 1 if failed or errors else 0


def _category_ids(detector) -> dict[int, int] | None:
    """Model class -> dataset category id, when the checkpoint was trained on remapped ids."""
    ids = detector.category_ids
    return {i: int(c) for i, c in enumerate(ids)} if ids else None


def _write_attention(folder: Path, name: str, image, det, threshold: float) -> None:
    """`<name>.npz` with every query's cross-attention map (+ encoder map when computed) and the
    geometry that maps them to pixels; `<name>.png` with the detections' maps over the image."""
    from PIL import Image

    from ..infer.heatmap import overlay

    maps = det.attention
    stem = name.replace("/", "__").rsplit(".", 1)[0]
    np.savez_compressed(
        folder / f"{stem}.npz", decoder=maps.decoder.astype(np.float16), scores=det.scores,
        labels=det.labels, boxes_xyxy=det.boxes_xyxy, image_size=np.array(maps.image_size),
        input_size=np.array(maps.input_size), stride=np.array(maps.stride),
        class_names=np.array(det.class_names))
    chosen = det.filter(threshold, topk=6) or det.filter(0.0, topk=1)
    panels = []
    for d in chosen:
        heat = maps.upsample(maps.decoder[d.query])
        panels.append(overlay(image, heat, 0.55, d.box_xyxy, f"q{d.query} {d.name} {d.score:.2f}"))
    width = min(image.width, 480)
    scale = width / image.width
    panels = [p.resize((width, max(1, round(image.height * scale)))) for p in panels]
    sheet = Image.new("RGB", (width * len(panels), panels[0].height), "black")
    for i, p in enumerate(panels):
        sheet.paste(p, (i * width, 0))
    sheet.save(folder / f"{stem}.png")
