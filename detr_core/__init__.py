"""detr_core: the DETR detector and everything that trains and evaluates it. Pure PyTorch, no Qt.

    from detr_core import Detector
    detector = Detector.from_checkpoint("resources/models/demo.pth")
    detections = detector("image.jpg", attention=True)
    for d in detections.filter(threshold=0.7):
        print(d.name, d.score, d.box_xyxy)

The public names load on first use (PEP 562), so `import detr_core.infer.onnx_runner` and the
error classes never pull in torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import CheckpointError, DatasetError, DeviceError, ImageError, WorkbenchError

# public name -> the module that defines it
_LAZY = {
    "LoadedCheckpoint": ".checkpoints", "load_checkpoint": ".checkpoints", "save_checkpoint": ".checkpoints",
    "ModelConfig": ".model.config", "preset": ".model.config",
    "Detection": ".infer.detections", "Detections": ".infer.detections",
    "Detector": ".infer.detector",
}

__all__ = [
    "CheckpointError", "DatasetError", "Detection", "Detections", "Detector", "DeviceError",
    "ImageError", "LoadedCheckpoint", "ModelConfig", "WorkbenchError", "load_checkpoint", "preset",
    "save_checkpoint",
]

if TYPE_CHECKING:
    from .checkpoints import LoadedCheckpoint, load_checkpoint, save_checkpoint
    from .infer.detections import Detection, Detections
    from .infer.detector import Detector
    from .model.config import ModelConfig, preset


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'detr_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
