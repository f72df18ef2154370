"""What travels between the GUI thread and the detector worker: frozen dataclasses holding only
plain values and CPU NumPy data (`Detections`), never Qt widgets or device tensors."""
from __future__ import annotations

from dataclasses import dataclass

from detr_core.infer.detections import Detections

Resolution = tuple[int, int]  # (shortest side, longest side at most) of the model input


@dataclass(frozen=True)
class LoadRequest:
    source: str  # checkpoint file, Hugging Face folder or official name ("detr-r50")
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: str = "fp32"
    reuse: bool = False  # the same source is loaded: only move it to `device` (no file read)
    threads: int = 0  # CPU threads for the model (0: torch's default, one per core)


@dataclass(frozen=True)
class ModelInfo:
    key: str  # unique per successful load; predictions and caches are tagged with it
    source: str
    description: str  # one line from the checkpoint loader
    class_names: tuple[str, ...]
    device: str  # the device it actually runs on ("cpu", "cuda:0", ...)
    threads: int  # CPU threads the worker uses
    precision: str
    default_resolution: Resolution  # the checkpoint's evaluation resize
    num_queries: int
    seconds: float  # time to load
    fingerprint: str = ""  # SHA-256 of the weights (fingerprint.py): the same across restarts
    available_devices: tuple[str, ...] = ()  # the devices this machine has (detr_core.devices), best first
    backbone: str = ""  # ModelConfig.backbone (the fine-tune dialog's recipe depends on it)


@dataclass(frozen=True)
class DetectRequest:
    request_id: int
    path: str
    resolution: Resolution | None  # None: the model's default
    attention: bool  # also capture last-layer decoder cross- and encoder self-attention
    after_load: int = 0  # loads requested before it: it runs on the model of the last of them


@dataclass(frozen=True)
class DetectResult:
    request: DetectRequest
    model_key: str  # the model that produced it
    resolution: Resolution  # the resolution actually used
    detections: Detections  # every query, CPU arrays
    seconds: float  # decode + model + post-processing
    fingerprint: str = ""  # that model's weights (ModelInfo.fingerprint)


@dataclass(frozen=True)
class BatchRequest:
    job_id: int
    paths: tuple[str, ...]
    resolution: Resolution | None


@dataclass(frozen=True)
class BatchItem:
    job_id: int
    index: int  # position in the job's paths
    path: str
    model_key: str
    resolution: Resolution
    detections: Detections | None  # None when the image failed
    error: str | None
    seconds: float
    fingerprint: str = ""  # that model's weights (ModelInfo.fingerprint)


@dataclass(frozen=True)
class BatchSummary:
    job_id: int
    total: int
    done: int  # images processed (including failed ones)
    failed: int
    cancelled: bool
    seconds: float
    first_error: str | None = None
