"""`detr-workbench coco stats | split | merge | merge-results`: inspect, split and merge COCO
instances files, and join pre-labelling shards into one COCO results file."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import DatasetError

_PROBLEMS_SHOWN = 50


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value}")
    return value


def _print_help(parser: argparse.ArgumentParser):
    def run(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2
    return run


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("coco", help="inspect, split and merge COCO annotation files",
                       description="Inspect, split and merge COCO instances JSON files.")
    p.set_defaults(func=_print_help(p))
    coco = p.add_subparsers(dest="coco_command", metavar="ACTION")

    s = coco.add_parser("stats", help="counts per class, empty images and problems",
                        description="Check a COCO file and print its counts.")
    s.add_argument("file", type=Path, metavar="FILE")
    s.add_argument("--image-root", type=Path, default=None,
                   help="folder image file_name values are relative to (default: found next to FILE)")
    s.add_argument("--strict", action="store_true", help="treat every warning as a problem")
    s.add_argument("--json", action="store_true", help="print machine-readable JSON")
    s.set_defaults(func=run_stats)

    t = coco.add_parser("split", help="split into train.json and val.json by image",
                        description="Split by image, keeping every class with at least 2 images "
                                    "in both parts. The same seed gives the same split.")
    t.add_argument("file", type=Path, metavar="FILE")
    t.add_argument("--val-fraction", type=_fraction, default=0.2, help="share of images in val "
                   "(default 0.2)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--out-dir", type=Path, required=True, help="where train.json and val.json go")
    t.add_argument("--image-root", type=Path, default=None, help="as for stats")
    t.add_argument("--overwrite", action="store_true", help="replace existing output files")
    t.set_defaults(func=run_split)

    m = coco.add_parser("merge", help="merge two COCO files into one",
                        description="Union of two files: categories matched by name, the same "
                                    "image file merged, clashing ids of B given fresh ids.")
    m.add_argument("a", type=Path, metavar="A")
    m.add_argument("b", type=Path, metavar="B")
    m.add_argument("--out", "-o", type=Path, required=True, metavar="C")
    m.add_argument("--image-root-a", type=Path, default=None, help="image folder of A")
    m.add_argument("--image-root-b", type=Path, default=None, help="image folder of B")
    m.add_argument("--overwrite", action="store_true", help="replace C if it exists")
    m.set_defaults(func=run_merge)
    _add_merge_results(coco)


def _add_merge_results(coco: argparse._SubParsersAction) -> None:
    r = coco.add_parser("merge-results", help="join detect --out-dir shards into one results file",
                        description="Join the shard files of `detect --out-dir` into one COCO "
                                    "detection results file (image_id, file_name, category_id, "
                                    "bbox, score, query). Shards of different checkpoints or "
                                    "settings are refused.")
    r.add_argument("shard_dir", type=Path, metavar="OUT_DIR", help="the folder given to detect --out-dir")
    r.add_argument("--out", "-o", type=Path, required=True, help="the results JSON to write")
    r.add_argument("--threshold", type=float, default=None,
                   help="keep detections with at least this score (default: all that were kept)")
    r.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    r.set_defaults(func=run_merge_results)


def _refuse_existing(paths: list[Path], overwrite: bool) -> None:
    for path in paths:
        if path.exists() and not overwrite:
            raise DatasetError(f"{path}: already exists; pass --overwrite to replace it")


def format_stats(stats: dict) -> str:
    """The stats dict as a readable table."""
    rows = [("image root", stats["image_root"]), ("images", stats["images"]),
            ("annotations", stats["annotations"]), ("categories", stats["categories"]),
            ("images without boxes", stats["images_without_boxes"]),
            ("crowd boxes", stats["crowd_boxes"]), ("zero-size boxes", stats["zero_size_boxes"]),
            ("boxes outside image", stats["boxes_outside_image"]),
            ("max boxes per image", stats["max_boxes_per_image"])]
    lines = [str(stats["file"])] + [f"  {name:<22}{value:>8}" if isinstance(value, int)
                                    else f"  {name:<22}{value}" for name, value in rows]
    width = max([len("class")] + [len(c["name"]) for c in stats["classes"]])
    lines += ["", f"  {'id':>6}  {'class':<{width}}  {'boxes':>8}  {'images':>7}"]
    lines += [f"  {c['id']:>6}  {c['name']:<{width}}  {c['boxes']:>8}  {c['images']:>7}"
              for c in stats["classes"]]
    lines.append("")
    lines.append(f"warnings: {len(stats['warnings']) or 'none'}")
    lines += [f"  - {w}" for w in stats["warnings"]]
    lines.append(f"problems: {len(stats['problems']) or 'none'}")
    return "\n".join(lines)


def run_stats(args: argparse.Namespace) -> int:
    from ..coco import CocoDocument, document_stats
    from ..coco.io import read_coco

    loaded = read_coco(args.file, args.image_root, strict=args.strict)
    report = loaded.report
    if report.problems:  # list them all (up to a limit) so the file can be fixed in one go
        if args.json:
            print(json.dumps({"file": str(args.file), "problems": report.problems,
                              "warnings": report.warnings}, indent=2))
        else:
            n = len(report.problems)
            print(f"{args.file}: {n} problem{'s' if n != 1 else ''} (file refused)")
            print("\n".join(f"  - {p}" for p in report.problems[:_PROBLEMS_SHOWN]))
            if len(report.problems) > _PROBLEMS_SHOWN:
                print(f"  ... and {len(report.problems) - _PROBLEMS_SHOWN} more")
        return 1
    doc = CocoDocument(loaded.data, loaded.image_root, args.file, json_format=loaded.format)
    stats = document_stats(doc, report)
    stats["image_root_reason"] = report.image_root_reason
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    return 0


def _describe(doc) -> str:
    return f"{len(doc.images)} images, {len(doc.annotations)} boxes"


def _note_image_root(doc) -> None:
    """Say so when loading the written file would not find its images by itself."""
    from ..coco import find_image_root

    found, _ = find_image_root(doc.path, doc.data)
    if found != doc.image_root:
        print(f"note: file_name values are relative to {doc.image_root}; pass that folder as "
              "--image-root (or image_root) when loading the written file")


def run_split(args: argparse.Namespace) -> int:
    from ..coco import CocoDocument, split_document

    outputs = [args.out_dir / "train.json", args.out_dir / "val.json"]
    _refuse_existing(outputs, args.overwrite)
    doc, _ = CocoDocument.load(args.file, args.image_root)
    if len(doc.images) < 2:
        raise DatasetError(f"{args.file}: needs at least 2 images to split, has {len(doc.images)}")
    result = split_document(doc, args.val_fraction, args.seed)
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"{args.out_dir}: cannot create folder ({e.strerror or e})") from None
    for part, path in zip((result.train, result.val), outputs):
        part.save(path, force=args.overwrite)
        print(f"{path}: {_describe(part)}")
    for cat_id in result.unsatisfied:
        print(f"warning: class {doc.category(cat_id)['name']!r} could not be put in both parts")
    _note_image_root(result.train)
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from ..coco import CocoDocument, merge_documents

    _refuse_existing([args.out], args.overwrite)
    a, _ = CocoDocument.load(args.a, args.image_root_a)
    b, _ = CocoDocument.load(args.b, args.image_root_b)
    result = merge_documents(a, b)
    result.document.save(args.out, force=args.overwrite)
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(f"{args.out}: {_describe(result.document)}, {len(result.document.categories)} classes")
    _note_image_root(result.document)
    return 0


def run_merge_results(args: argparse.Namespace) -> int:
    from ..atomic import atomic_write_json
    from ..infer.shards import merge_shards

    _refuse_existing([args.out], args.overwrite)
    merged = merge_shards(args.shard_dir, args.threshold)
    try:
        atomic_write_json(args.out, merged.results)
    except OSError as e:
        raise DatasetError(f"{args.out}: cannot write results ({e.strerror or e})") from None
    for name, error in merged.failed[:_PROBLEMS_SHOWN]:
        print(f"warning: {name}: no result ({error})")
    print(f"{args.out}: {len(merged.results)} detections of {merged.images} images from "
          f"{len(merged.files)} shard files (checkpoint {merged.checkpoint[:12]}); "
          f"{len(merged.failed)} images failed")
    return 0
