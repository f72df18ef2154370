"""Inference-only speed-ups that keep the outputs: frozen batch norm folded into the convolution
before it, the backbone in channels-last memory layout (faster oneDNN kernels on CPUs), and on CPUs
the ResNet body on fused oneDNN kernels (`fused_resnet`)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from ...model.backbone import FrozenBatchNorm2d
from .fused_resnet import FusedResNetBody, supported


def _fold(conv: nn.Conv2d, bn: FrozenBatchNorm2d) -> nn.Conv2d:
    """A new convolution computing bn(conv(x)) in one step (weights folded in float64)."""
    scale, shift = (t.double() for t in bn.scale_and_shift())
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode)
    weight = conv.weight.double() * scale.reshape(-1, 1, 1, 1)
    bias = shift if conv.bias is None else conv.bias.double() * scale + shift
    with torch.no_grad():
        fused.weight.copy_(weight.to(conv.weight.dtype))
        fused.bias.copy_(bias.to(conv.weight.dtype))
    fused.to(conv.weight.device)
    fused.requires_grad_(False)
    return fused


def fold_frozen_batchnorm(module: nn.Module) -> int:
    """Fold every FrozenBatchNorm2d that directly follows a convolution, in place: the pairs
    torchvision's ResNet uses (`convN` + `bnN` siblings; `Sequential(conv, bn)`). Returns how
    many were folded."""
    folded = 0
    for child in list(module.children()):
        folded += fold_frozen_batchnorm(child)
    if isinstance(module, nn.Sequential):
        items = list(module._modules.items())
        for (name_a, a), (name_b, b) in zip(items, items[1:]):
            if isinstance(a, nn.Conv2d) and isinstance(b, FrozenBatchNorm2d):
                module._modules[name_a] = _fold(a, b)
                module._modules[name_b] = nn.Identity()
                folded += 1
        return folded
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Conv2d) and name.startswith("conv"):
            bn = getattr(module, "bn" + name[len("conv"):], None)
            if isinstance(bn, FrozenBatchNorm2d):
                setattr(module, name, _fold(child, bn))
                setattr(module, "bn" + name[len("conv"):], nn.Identity())
                folded += 1
    return folded


def optimize_for_inference(model: nn.Module, device: torch.device, fuse_kernels: bool = True) -> nn.Module:
    """A copy of a DETR for inference: eval mode, no gradients, batch norm folded into the
    backbone's convolutions, convolutions in channels-last layout and, with `fuse_kernels` on a CPU
    with oneDNN, the ResNet body on fused kernels (fp32 only: pass False under autocast). The
    original is untouched."""
    fast = copy.deepcopy(model).eval().requires_grad_(False).to(device)
    fold_frozen_batchnorm(fast.backbone)
    if device.type in ("cpu", "cuda"):
        fast.backbone.to(memory_format=torch.channels_last)
        fast.input_proj.to(memory_format=torch.channels_last)
    if fuse_kernels and supported(device):
        backbone = fast.backbone[0]
        fused = _fused_body(backbone.body)
        if fused is not None:
            backbone.body = fused
    return fast


def _fused_body(body: nn.Module) -> FusedResNetBody | None:
    """The body on fused kernels if it builds and gives the body's outputs on a probe image;
    otherwise None (an unusual body, or a torch whose private oneDNN ops changed)."""
    if any(p.dtype != torch.float32 for p in body.parameters()):
        return None
    try:
        fused = FusedResNetBody(body)
        probe = torch.randn(1, 3, 72, 88, generator=torch.Generator().manual_seed(0))
        probe = probe.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            (expected,), (got,) = body(probe).values(), fused(probe).values()
    except (RuntimeError, ValueError, TypeError, AttributeError):
        return None
    if got.shape != expected.shape or (got - expected).abs().max() > 1e-4 * expected.abs().max():
        return None
    return fused
