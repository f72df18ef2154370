"""`detr-workbench review`: where the model and the labels disagree, ranked, with a reason per box.

    detr-workbench review --checkpoint C --json J [--images DIR] --out findings.json
    detr-workbench review --checkpoint C --images DIR [--previous P] --out queue.json   (unlabelled)
    detr-workbench review --checkpoint C --json J --folds 5 --fold-train "--config tiny --epochs 1"

Exit codes: 0 done; 1 an error, or some images could not be read (they are listed in the file).
"""
from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("review", help="rank images by where the model and the labels disagree",
                       description="Score every image of a COCO file with a checkpoint and list, per box, "
                                   "the likely mistakes (missing, badly placed, wrong class, spurious, "
                                   "conflicting or duplicate boxes) with a reason and a score; or rank "
                                   "unlabelled images by the model's uncertainty.",
                       epilog="Settings (--set NAME=VALUE, defaults in brackets): " + ", ".join(
                           f"{f.name} [{f.default}]" for f in dataclasses.fields(_config_class())))
    p.add_argument("--checkpoint", "-c", required=True, help="project/official .pth, Hugging Face folder, or a name")
    p.add_argument("--json", type=Path, help="COCO instances file to review (without it: rank --images unlabelled)")
    p.add_argument("--images", type=Path, help="its image folder (default: found next to it), or the unlabelled folder")
    p.add_argument("--out", "-o", type=Path, required=True, help="findings JSON to write")
    p.add_argument("--image-list", type=Path, help="unlabelled: a text file naming the images to rank, one path a line "
                                                     "(instead of a folder)")
    p.add_argument("--previous", help="unlabelled: the previous model, for the disagreement term")
    p.add_argument("--folds", type=int, help="cross-fit: train K fold models, each scores its held-out fold")
    p.add_argument("--fold-train", help="cross-fit: options for `train` (quoted), e.g. "
                                        "\"--checkpoint detr-r50 --epochs 20\" or \"--config tiny --epochs 1\"")
    p.add_argument("--fold-dir", type=Path, help="cross-fit: where the fold runs go (default OUT_folds/)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="change a setting (repeatable)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--top", type=int, default=10, help="show this many images on stderr (default 10)")
    p.add_argument("--jsonl", action="store_true",
                   help="also stream each image's review on stdout as it arrives, one JSON object a line "
                        "(first {\"type\": \"queue\", \"honesty\", \"class_mapping\"}, then {\"type\": \"image\", ...}; "
                        "last {\"type\": \"done\", \"counts\": ...}), for a GUI")
    p.set_defaults(func=run)


def _config_class():
    from ..review.config import ReviewConfig

    return ReviewConfig


def parse_settings(items: list[str]):
    """["confident=0.9", ...] -> a ReviewConfig. Raises WorkbenchError naming a bad item."""
    from ..errors import WorkbenchError

    cfg = _config_class()()
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    changes = {}
    for item in items:
        name, _, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in fields or not value:
            raise WorkbenchError(f"--set {item}: expected NAME=VALUE with NAME one of {', '.join(fields)}")
        kind = type(fields[name].default)
        try:
            changes[name] = kind(value)
        except ValueError:
            raise WorkbenchError(f"--set {item}: {name} takes a {kind.__name__}") from None
    return cfg.replace(**changes)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..errors import WorkbenchError
    from ..review import api

    cfg = parse_settings(args.set)
    if args.json is None and args.images is None and args.image_list is None:
        raise WorkbenchError("give --json (labelled review) or --images / --image-list (unlabelled ranking)")
    if args.image_list is not None and args.json is not None:
        raise WorkbenchError("--image-list ranks unlabelled images: give it without --json")
    if args.folds is not None and args.json is None:
        raise WorkbenchError("--folds needs --json: cross-fitting scores labelled images")
    if args.batch_size < 1:
        raise WorkbenchError(f"--batch-size must be at least 1, got {args.batch_size}")
    bar = tqdm(unit="img", desc="review", disable=None, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    stream = _stream if args.jsonl else None
    common = dict(cfg=cfg, device=args.device, batch_size=args.batch_size, on_progress=progress, on_image=stream,
                  on_start=_stream_start if args.jsonl else None)
    if args.folds is not None:
        queue = _crossfit(args, cfg, progress, stream)
    elif args.json is not None:
        queue = api.review_labelled(args.checkpoint, args.json, args.images, **common)
    else:
        images = _image_list(args.image_list) if args.image_list is not None else args.images
        queue = api.review_unlabelled(args.checkpoint, images, previous=args.previous, **common)
    bar.close()
    queue.write(args.out)
    if args.jsonl:
        _emit({"type": "done", "counts": queue.counts(), "out": str(args.out)})
    _summary(queue, args)
    return 1 if queue.failed else 0


def _image_list(path: Path) -> list[Path]:
    from ..errors import WorkbenchError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise WorkbenchError(f"{path}: cannot read the image list ({getattr(e, 'strerror', None) or e})") from None
    return [Path(line.strip()) for line in lines if line.strip()]


def _emit(event: dict) -> None:
    import json

    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _stream_start(queue) -> None:
    _emit({"type": "queue", "kind": queue.kind, "model": queue.model, "honesty": queue.honesty.to_dict(),
           "class_mapping": queue.class_mapping})


def _stream(review) -> None:
    _emit({"type": "image", **review.to_dict()})


def _crossfit(args, cfg, progress, stream):
    from ..coco.io import read_coco
    from ..errors import DatasetError, WorkbenchError
    from ..review import crossfit
    from ..review.labels import ClassMapping
    from ..review.queue import ReviewQueue

    if not args.fold_train:
        raise WorkbenchError("--folds needs --fold-train: how to train each fold model, e.g. "
                             "\"--checkpoint detr-r50 --epochs 20\" (not the reviewed checkpoint: it saw every image)")
    loaded = read_coco(args.json, args.images)
    if loaded.report.problems:
        raise DatasetError(f"{args.json}: {loaded.report.problems[0]}")
    folds = crossfit.make_folds(loaded.data, args.folds)
    _stop_folds_on_sigterm()
    fold_dir = args.fold_dir or args.out.with_name(args.out.stem + "_folds")
    models = crossfit.train_fold_models(loaded.data, loaded.image_root, folds, fold_dir, shlex.split(args.fold_train),
                                        on_fold=lambda i, message: print(f"detr-workbench review: {message}",
                                                                         file=sys.stderr))
    from ..infer.detector import Detector

    first = Detector.from_checkpoint(models[0], device="cpu")
    mapping = ClassMapping.build(first.class_names, loaded.data.get("categories", []), first.category_ids).note
    queue = ReviewQueue("labelled", f"{len(models)} fold models ({fold_dir})", crossfit.crossfit_honesty(len(folds)),
                        mapping, cfg)
    if stream:  # the queue event first, as for a normal review: its honesty says cross-fitted
        _stream_start(queue)
    for review in crossfit.iter_crossfit(loaded.data, loaded.image_root, folds, models, cfg, device=args.device,
                                         batch_size=args.batch_size, on_progress=progress):
        queue.add(review)
        if stream:
            stream(review)
    return queue


def _stop_folds_on_sigterm() -> None:
    """SIGTERM (the window's Cancel) ends this process and the fold training it is waiting on:
    the exit unwinds through `subprocess.run`, which kills its child."""
    import signal

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _summary(queue, args) -> None:
    say = lambda line: print(f"detr-workbench review: {line}", file=sys.stderr)
    counts = queue.counts()
    say(f"{queue.honesty.status}: {queue.honesty.detail}")
    if queue.class_mapping:
        say(queue.class_mapping)
    kinds = ", ".join(f"{counts[k]} {k}" for k in sorted(counts) if k not in ("images", "scored", "failed", "findings"))
    say(f"{counts['scored']} images scored, {counts['findings']} findings{': ' + kinds if kinds else ''}; "
        f"written to {args.out}")
    for r in queue.failed:
        say(f"skipped: {r.error}")
    for r in queue.ranked()[:max(0, args.top)]:
        why = r.findings[0].reason if r.findings else ", ".join(f"{k} {v:.2f}" for k, v in (r.uncertainty or {}).items())
        say(f"  {r.score:.2f}  {r.file_name}  {why}")
