"""`detr-workbench export`: a checkpoint to an ONNX file, checked against PyTorch before it is written."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import WorkbenchError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX (with a self-check)",
                       description="Trace the plain model to ONNX (opset 17; inputs images [B,3,H,W] "
                                   "normalised and mask [B,H,W], True = padding; dynamic B, H, W), "
                                   "check it with onnxruntime against PyTorch on the bundled samples "
                                   "at two sizes and a padded batch of two, and write the file only "
                                   "if the check passes.")
    p.add_argument("--checkpoint", "-c", required=True,
                   help="project .pth, official .pth, Hugging Face folder, or an official name")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="output format (onnx)")
    p.add_argument("--out", "-o", type=Path, required=True, help="the .onnx file to write")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--min-size", type=int, default=None, help="resize recorded in the file: shortest side")
    p.add_argument("--max-size", type=int, default=None, help="resize recorded in the file: longest side")
    p.add_argument("--no-check", action="store_true", help="skip the self-check (not recommended)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..export import ExportConfig, export_onnx

    if args.out.exists() and not args.overwrite:
        raise WorkbenchError(f"{args.out}: already exists; pass --overwrite to replace it")
    config = ExportConfig(opset=args.opset, check=not args.no_check, min_size=args.min_size,
                          max_size=args.max_size)

    def progress(step: int, steps: int, text: str) -> None:
        print(f"detr-workbench export: [{step}/{steps}] {text}", file=sys.stderr)

    result = export_onnx(args.checkpoint, args.out, config, progress)
    if result.report is not None:
        print(result.report.table(), file=sys.stderr)
    print(f"detr-workbench export: {result.path} ({result.size_bytes / 1e6:.1f} MB, "
          f"checkpoint sha256 {result.metadata.checkpoint_sha256[:12]})", file=sys.stderr)
    return 0
