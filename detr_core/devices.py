"""Device and precision choice: CPU, CUDA and MPS, automatically or by name."""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, ContextManager

from .errors import DeviceError

if TYPE_CHECKING:
    import torch
# torch is imported inside each function: the window lists DEVICE_CHOICES before torch is loaded

PRECISIONS = ("fp32", "bf16", "fp16", "reduced")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")  # what resolve_device accepts (and "cuda:N")


def available_devices() -> list[str]:
    """Names of the devices this machine can run on, best first among accelerators, cpu last."""
    import torch

    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names + ["cpu"]


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """"auto" (CUDA, else MPS, else CPU), "cpu", "cuda", "cuda:N" or "mps" -> a device that exists.

    Raises DeviceError with a one-line reason for a device that is not there."""
    import torch

    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r}: CUDA is not available on this machine "
                              f"(torch {torch.__version__} sees no GPU)")
        try:
            device = torch.device(name)
        except RuntimeError:
            raise DeviceError(f"device {name!r}: not a valid CUDA device name") from None
        index = device.index or 0
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceError(f"device {name!r}: only {count} CUDA device(s) present")
        return torch.device("cuda", index)
    if name == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise DeviceError("device 'mps': Apple Metal is not available on this machine")
        return torch.device("mps")
    raise DeviceError(f"device {name!r}: unknown; use {', '.join(DEVICE_CHOICES)} or cuda:N")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """fp32 -> None (no autocast); bf16/fp16 -> that dtype; "reduced" -> bf16 on CPU, fp16 on
    CUDA/MPS. Raises DeviceError where the device cannot do it."""
    import torch

    precision = precision.lower()
    if precision not in PRECISIONS:
        raise DeviceError(f"precision {precision!r}: unknown; use {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return None
    if precision == "reduced":
        precision = "bf16" if device.type == "cpu" else "fp16"
    if precision == "fp16" and device.type == "cpu":
        raise DeviceError("precision 'fp16' is not supported on the CPU; use bf16")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError(f"precision 'bf16' is not supported on {torch.cuda.get_device_name(device)}; use fp16")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> ContextManager:
    """Autocast for reduced precision, or nothing for fp32."""
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
