"""`detr-workbench compare`: is model B better than model A on these labels, where, and where worse?

    detr-workbench compare --a before.pth --b after.pth --json val.json [--images DIR] [--out report.json]
    detr-workbench compare --a results_a.json --b results_b.json --json val.json   # COCO results files

Prints ΔAP, ΔAP50, ΔAR100 with a paired bootstrap 95 % interval ("not significant" when it spans
0), the object outcomes (fixed, broke, kept/moved, new / removed false positives, class changed),
the TIDE error types of both models and the per-class ΔAP worst first. `--out` writes all of it
and every object's outcome as JSON.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare two models (or results files) object by object",
                       description="Compare model A and model B on a COCO file's labels.")
    p.add_argument("--a", required=True, help="model A: a checkpoint (or a COCO results .json)")
    p.add_argument("--b", required=True, help="model B: a checkpoint (or a COCO results .json)")
    p.add_argument("--json", required=True, type=Path, help="ground-truth COCO instances file")
    p.add_argument("--images", type=Path, help="its image folder (default: found next to it)")
    p.add_argument("--out", "-o", type=Path, help="write the report and every object's outcome here")
    p.add_argument("--iou", type=float, default=0.5, help="IoU of a true positive (default 0.5)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="score threshold of the object outcomes (default 0.5; AP uses every score)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000; 0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def _is_results(path: str) -> bool:
    return path.endswith(".json") and Path(path).is_file()


def run(args: argparse.Namespace) -> int:
    from ..atomic import atomic_write_json
    from ..coco import CocoDocument
    from ..coco.metrics import read_results
    from ..compare import CompareConfig, compare_checkpoints, compare_results, format_summary
    from ..errors import WorkbenchError

    config = CompareConfig(iou=args.iou, threshold=args.threshold, bootstrap=args.bootstrap, seed=args.seed)
    if _is_results(args.a) != _is_results(args.b):
        raise WorkbenchError("--a and --b must both be checkpoints or both COCO results files")
    if _is_results(args.a):
        doc, _ = CocoDocument.load(args.json, args.images)
        gt = doc.to_json()
        comparison = compare_results(gt, read_results(args.a, gt), read_results(args.b, gt), config)
    else:
        def progress(done: int, total: int, stage: str) -> None:
            if sys.stderr.isatty():
                print(f"\r{stage} with A and B: {done}/{total} images", end="", file=sys.stderr)

        comparison = compare_checkpoints(args.a, args.b, args.json, args.images, config=config,
                                         device=args.device, progress=progress)
        if sys.stderr.isatty():
            print(file=sys.stderr)
    for line in comparison.skipped:
        print(f"detr-workbench compare: skipped {line}", file=sys.stderr)
    print(f"A: {args.a}\nB: {args.b}")
    print(format_summary(comparison))
    if args.out:
        atomic_write_json(args.out, {"a": str(args.a), "b": str(args.b), **comparison.to_json()}, indent=1)
        print(f"detr-workbench compare: wrote {args.out}", file=sys.stderr)
    return 0
