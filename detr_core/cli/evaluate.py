"""`detr-workbench eval`: COCO box metrics through pycocotools.

    detr-workbench eval --checkpoint C --json GT.json --images DIR [--out metrics.json]
    detr-workbench eval --gt GT.json --pred RESULTS.json [--out metrics.json]

Prints the twelve COCO numbers and per-class AP as a table (stderr) and writes them as JSON under
the names AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl, per_class (null where
pycocotools has no ground truth to score).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="COCO metrics of a checkpoint or of a results file",
                       description="Score a checkpoint on a COCO instances file and its images, or "
                                   "score a COCO detection results file against ground truth.")
    p.add_argument("--checkpoint", "-c", help="project/official .pth, Hugging Face folder, or detr-r50 ...")
    p.add_argument("--json", type=Path, help="ground-truth COCO instances file (with --checkpoint)")
    p.add_argument("--images", type=Path, help="its image folder (default: found next to it)")
    p.add_argument("--gt", type=Path, help="ground-truth COCO instances file (with --pred)")
    p.add_argument("--pred", type=Path, help="COCO detection results file to score")
    p.add_argument("--out", "-o", type=Path, help="write the metrics as JSON here")
    p.add_argument("--results", type=Path, help="with --checkpoint: also write the detections (COCO results)")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--min-size", type=int, default=None, help="resize: shortest side (model's default)")
    p.add_argument("--max-size", type=int, default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..atomic import atomic_write_json
    from ..coco.metrics import coco_metrics, format_table, read_results
    from ..errors import WorkbenchError

    if bool(args.checkpoint) == bool(args.pred):
        raise WorkbenchError("give either --checkpoint with --json (and --images), or --gt with --pred")
    if args.checkpoint:
        if args.json is None:
            raise WorkbenchError("--checkpoint needs --json, the ground-truth COCO file")
        from ..train.evaluate import evaluate_checkpoint

        result, how = evaluate_checkpoint(args.checkpoint, args.json, args.images, device=args.device,
                                          batch_size=args.batch_size, num_workers=args.workers,
                                          min_size=args.min_size, max_size=args.max_size)
        metrics = result.metrics
        print(f"detr-workbench eval: {result.images} images in {result.duration_s:.1f} s; classes mapped "
              f"by {how}", file=sys.stderr)
        if args.results:
            _write(atomic_write_json, args.results, result.results)
    else:
        if args.gt is None:
            raise WorkbenchError("--pred needs --gt, the ground-truth COCO file")
        from ..coco import CocoDocument

        doc, _ = CocoDocument.load(args.gt)
        results = read_results(args.pred, doc.data)
        metrics = coco_metrics(doc.data, results)
    print(format_table(metrics), file=sys.stderr)
    if args.out:
        _write(atomic_write_json, args.out, metrics, indent=2)
    else:
        json.dump(metrics, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


def _write(write, path: Path, data, indent: int | None = None) -> None:
    from ..errors import WorkbenchError

    try:
        write(path, data, indent=indent)
    except OSError as e:
        raise WorkbenchError(f"{path}: cannot write ({e.strerror or e})") from None
