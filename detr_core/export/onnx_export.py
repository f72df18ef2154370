"""Export a DETR checkpoint to ONNX, check it against PyTorch, and only then write the file.

    result = export_onnx("run/best.pth", "model.onnx")      # raises ExportError on any failure
    result.report.summary()   # "self-check passed on 3 cases: max |onnx - torch| 2.4e-06 ..."

The graph is traced from the plain model (the fused CPU kernels of `infer/fast` do not trace) with
`torch.onnx.export(dynamo=False)` at opset 17:
    inputs   images [B, 3, H, W] float32, normalised;  mask [B, H, W] bool, True = padding
    outputs  pred_logits [B, Q, K+1];  pred_boxes [B, Q, 4] cxcywh in [0, 1] of the unpadded image
with B, H and W dynamic. The file's metadata (key "detr_workbench", JSON) holds the preprocessing
(mean, std, min/max size), the class names, the category ids and the checkpoint's SHA-256; the
torch-free `detr_core.infer.onnx_runner.OnnxDetector` reads it.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from ..atomic import atomic_write
from ..errors import ExportError
from ..infer.fingerprint import checkpoint_sha256
from ..infer.onnx_runner import METADATA_KEY, OnnxDetector, OnnxMetadata
from ..infer.preprocess import IMAGENET_MEAN, IMAGENET_STD
from .self_check import CheckReport, CheckTolerances, self_check

Progress = Callable[[int, int, str], None]  # (step, steps, what is happening)
STEPS = 5


@dataclass(frozen=True)
class ExportConfig:
    opset: int = 17  # ONNX operator set
    check: bool = True  # run the self-check (the file is written only if it passes)
    tolerances: CheckTolerances = CheckTolerances()
    min_size: int | None = None  # resize recorded in the file; None: the checkpoint's own
    max_size: int | None = None


@dataclass(frozen=True)
class ExportResult:
    path: Path
    size_bytes: int
    metadata: OnnxMetadata
    report: CheckReport | None  # None when the check was turned off


class _OnnxDETR(nn.Module):
    """DETR with the two-tensor interface ONNX gets: (images, mask) -> (pred_logits, pred_boxes)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """images [B, 3, H, W], mask [B, H, W] -> pred_logits [B, Q, K+1], pred_boxes [B, Q, 4]."""
        out = self.model(images, mask, aux=False)
        return out["pred_logits"], out["pred_boxes"]


def _example(min_size: int) -> tuple[Tensor, Tensor]:
    """A padded batch of two to trace with: the graph must take the masked path (the transformer
    drops an all-False mask, which would trace a graph that ignores padding)."""
    h, w = min_size, min_size * 4 // 3
    images = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(2, h, w, dtype=torch.bool)
    mask[1, :, w * 3 // 4:] = True
    mask[1, h * 3 // 4:, :] = True
    images[1][:, mask[1]] = 0
    return images, mask


def trace_to_bytes(model: nn.Module, opset: int, min_size: int, where: str) -> bytes:
    """The ONNX bytes of `model` (plain DETR, CPU, eval). Raises ExportError naming `where`."""
    wrapper = _OnnxDETR(model).eval()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # TracerWarnings on shape-dependent Python branches
            torch.onnx.export(
                wrapper, _example(min_size), buffer, dynamo=False, opset_version=opset,
                input_names=["images", "mask"], output_names=["pred_logits", "pred_boxes"],
                dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"},
                              "mask": {0: "batch", 1: "height", 2: "width"},
                              "pred_logits": {0: "batch"}, "pred_boxes": {0: "batch"}})
    except Exception as e:  # the exporter raises many kinds: report which, in one line
        first = (str(e).strip().splitlines() or [""])[0][:300]
        raise ExportError(f"{where}: cannot be traced to ONNX ({type(e).__name__}: {first})") from None
    return buffer.getvalue()


def add_metadata(onnx_bytes: bytes, metadata: OnnxMetadata) -> bytes:
    """The model with `metadata` stored under METADATA_KEY (and checked by onnx's checker)."""
    import onnx

    proto = onnx.load_from_string(onnx_bytes)
    proto.producer_name = "detr-workbench"
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {METADATA_KEY: metadata.to_json(),
                                        "checkpoint_sha256": metadata.checkpoint_sha256})
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def _need_export_extra() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise ExportError(f"ONNX export needs onnx and onnxruntime ({e.name} is missing): "
                          "pip install 'detr-workbench[export]'") from None


def export_onnx(checkpoint: str | os.PathLike, out: str | os.PathLike, config: ExportConfig = ExportConfig(),
                on_progress: Progress | None = None) -> ExportResult:
    """Export `checkpoint` (anything `load_checkpoint` reads) to `out`. The file is written
    (atomically) only after the self-check passed; on failure `out` is left as it was.
    Raises ExportError (or CheckpointError for an unreadable checkpoint), one line naming the file."""
    from ..checkpoints import load_checkpoint

    _need_export_extra()
    out = Path(out)
    progress = on_progress or (lambda step, steps, text: None)
    if not out.parent.is_dir():
        raise ExportError(f"{out}: folder {out.parent} does not exist")
    progress(0, STEPS, f"loading {checkpoint}")
    loaded = load_checkpoint(checkpoint, min_size=config.min_size, max_size=config.max_size)
    cfg = loaded.config
    metadata = OnnxMetadata(
        class_names=list(loaded.class_names), category_ids=loaded.metadata.get("category_ids") or None,
        mean=IMAGENET_MEAN, std=IMAGENET_STD, min_size=cfg.min_size, max_size=cfg.max_size,
        stride=cfg.stride, num_queries=cfg.num_queries, checkpoint_sha256="",
        description=loaded.description)
    progress(1, STEPS, "hashing the checkpoint")
    digest = checkpoint_sha256(checkpoint)
    metadata = OnnxMetadata(**{**metadata.__dict__, "checkpoint_sha256": digest})
    progress(2, STEPS, f"tracing (opset {config.opset})")
    model = loaded.model.float().cpu().eval()
    data = add_metadata(trace_to_bytes(model, config.opset, cfg.min_size, os.fspath(checkpoint)), metadata)
    report = None
    if config.check:
        progress(3, STEPS, "self-check: onnxruntime against PyTorch")
        runner = OnnxDetector.from_file(out, model_bytes=data)
        report = self_check(model, runner.session, cfg.min_size, cfg.max_size, config.tolerances)
        if not report.ok:
            raise ExportError(f"{out} not written: {report.summary()}")
    progress(4, STEPS, f"writing {out}")
    try:
        atomic_write(out, lambda f: f.write(data))
    except OSError as e:
        raise ExportError(f"{out}: cannot write ({e.strerror or e})") from None
    progress(STEPS, STEPS, report.summary() if report else "written (self-check skipped)")
    return ExportResult(out, len(data), metadata, report)
