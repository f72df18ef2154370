"""What `detect` runs: the PyTorch Detector on a checkpoint, or the torch-free OnnxDetector on an
exported .onnx file (`--engine onnx`, the default for a .onnx checkpoint)."""
from __future__ import annotations

import argparse
import os

from ..errors import WorkbenchError


def engine_of(args: argparse.Namespace) -> str:
    if args.engine:
        return args.engine
    return "onnx" if str(args.checkpoint).lower().endswith(".onnx") else "torch"


def _device(requested: str) -> str:
    """Under torchrun (LOCAL_RANK set) "auto" means this process's own GPU, cuda:LOCAL_RANK."""
    local_rank = os.environ.get("LOCAL_RANK")
    if requested != "auto" or local_rank is None:
        return requested
    import torch

    if not torch.cuda.is_available():
        return requested
    return f"cuda:{int(local_rank) % torch.cuda.device_count()}"


def open_detector(args: argparse.Namespace):
    """The Detector or OnnxDetector the arguments ask for."""
    if engine_of(args) == "onnx":
        from ..infer.onnx_runner import OnnxDetector

        if args.device not in ("auto", "cpu") or args.precision != "fp32":
            raise WorkbenchError(f"--engine onnx runs on the CPU in fp32, not --device {args.device} "
                                 f"--precision {args.precision}")
        if getattr(args, "attention_dir", None):
            raise WorkbenchError("--attention-dir needs the PyTorch engine: an ONNX model returns no attention")
        if args.min_size or args.max_size:
            raise WorkbenchError("--min-size/--max-size: an ONNX file keeps the resize it was exported with "
                                 "(export --min-size/--max-size)")
        return OnnxDetector.from_file(args.checkpoint)
    from ..infer.detector import Detector

    return Detector.from_checkpoint(args.checkpoint, device=_device(args.device), precision=args.precision,
                                    min_size=args.min_size, max_size=args.max_size)


def model_sha256(args: argparse.Namespace, detector) -> str:
    """The SHA-256 of the checkpoint the detections come from (an ONNX file records its own)."""
    if engine_of(args) == "onnx":
        return detector.metadata.checkpoint_sha256
    from ..infer.fingerprint import checkpoint_sha256

    return checkpoint_sha256(args.checkpoint)
