"""`detect --out-dir D [--shard I/N]`: this process's share of the images into D's shard file.

The shard comes from --shard, else torchrun's RANK/WORLD_SIZE or a Slurm job array, else 0/1.
A rerun skips what is done; `detr-workbench coco merge-results D` joins the shards.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import WorkbenchError


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scale (ONNX engine, shards)")
    g.add_argument("--engine", choices=["torch", "onnx"], default=None,
                   help="torch (a checkpoint) or onnx (an exported .onnx file, torch-free); "
                        "default: onnx for a .onnx checkpoint")
    g.add_argument("--out-dir", type=Path, default=None,
                   help="write one JSON-lines file per shard here (resumable; join them with "
                        "`coco merge-results`)")
    g.add_argument("--shard", default=None, metavar="I/N",
                   help="run every N-th image from the I-th (default: RANK/WORLD_SIZE under torchrun, "
                        "a Slurm job array's task, else 0/1); needs --out-dir")
    g.add_argument("--keep-low-scores", action="store_true",
                   help="keep every query whatever its score (for the review queue); ignores "
                        "--threshold and --topk")


def run_sharded(args: argparse.Namespace, images: list[tuple[Path, str]]) -> int:
    from tqdm import tqdm

    from ..infer.prelabel import PrelabelConfig, prelabel, settings_of
    from ..infer.shards import Shard, ShardWriter
    from .engines import engine_of, model_sha256, open_detector

    if args.out_dir is None:
        raise WorkbenchError("--shard needs --out-dir (where the shard files go)")
    if args.attention_dir:
        raise WorkbenchError("--attention-dir cannot be combined with --out-dir")
    shard = Shard.parse(args.shard) if args.shard else (Shard.from_env() or Shard(0, 1))
    mine = [(index, path, name) for index, (path, name) in shard.take(images)]
    detector = open_detector(args)
    from .detect import _category_ids

    config = PrelabelConfig(batch_size=args.batch_size, threshold=0.0 if args.keep_low_scores else args.threshold,
                            topk=None if args.keep_low_scores else args.topk, category_ids=_category_ids(detector))
    settings = settings_of(engine_of(args), detector, args.precision, config)
    print(f"detr-workbench detect: shard {shard.index}/{shard.count}: {len(mine)} of {len(images)} images, "
          f"{detector.description} on {detector.device}", file=sys.stderr)
    bar = tqdm(total=len(mine), unit="img", desc=f"shard {shard.index}", disable=None, file=sys.stderr)

    def on_image(count: int, error: str | None) -> None:
        if error:
            tqdm.write(f"detr-workbench detect: error: {error}", file=sys.stderr)
        bar.update(count)

    with ShardWriter.open(args.out_dir, shard, model_sha256(args, detector), settings) as writer:
        counts = prelabel(detector, mine, writer, config, on_image)
    bar.close()
    print(f"detr-workbench detect: {writer.path}: {counts.done} done, {counts.skipped} already done, "
          f"{counts.failed} failed", file=sys.stderr)
    return 1 if counts.failed else 0
