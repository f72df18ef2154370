"""A model's fingerprint: the SHA-256 of its weights, configuration and class names (no Qt).

The same weights give the same fingerprint whatever file, folder or official name they came
from, and any change to a weight (a fine-tuning step) gives another, so decisions on predictions
(decisions.py) are kept per fingerprint. Computed once per checkpoint load (not for a device
move), on the detector thread: 0.12 s for the demo model, 0.9 s for DETR-R50 (159 MB) on the
shared 2-core test machine (tests/benchmarks/bench_fingerprint.py).
"""
from __future__ import annotations

import hashlib

import torch


def fingerprint(model: torch.nn.Module, config, class_names) -> str:
    """Hex SHA-256 over every state-dict tensor (name, dtype, shape, bytes), `repr(config)` and
    the class names, in a fixed order."""
    digest = hashlib.sha256()
    digest.update(repr(config).encode("utf-8"))
    digest.update("\x00".join(class_names).encode("utf-8"))
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"\x00{name}:{t.dtype}:{tuple(tensor.shape)}".encode("utf-8"))
        digest.update(t.view(torch.uint8).numpy())  # the raw bytes, any dtype (bf16 included)
    return digest.hexdigest()
