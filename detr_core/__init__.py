"""detr_core: the DETR detector and everything that trains and evaluates it. Pure PyTorch, no Qt.

    from detr_core import Detector
    detector = Detector.from_checkpoint("resources/models/demo.pth")
    detections = detector("image.jpg", attention=True)
    for d in detections.filter(threshold=0.7):
        print(d.name, d.score, d.box_xyxy)
"""
from .checkpoints import LoadedCheckpoint, load_checkpoint, save_checkpoint
from .model.config import ModelConfig, preset
from .infer.detections import Detection, Detections
from .infer.detector import Detector
from .errors import CheckpointError, DatasetError, DeviceError, ImageError, WorkbenchError

__all__ = [
    "CheckpointError", "DatasetError", "Detection", "Detections", "Detector", "DeviceError",
    "ImageError", "LoadedCheckpoint", "ModelConfig", "WorkbenchError", "load_checkpoint", "preset",
    "save_checkpoint",
]
