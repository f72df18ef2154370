"""An inference-only ResNet body on oneDNN's fused CPU kernels.

Each convolution runs with its ReLU in one kernel; each block's last convolution adds itself into
the shortcut's memory (then one in-place ReLU) instead of allocating a new output; weights are
reordered once into oneDNN's blocked layout instead of at every call. The 3x3 convolutions inside
the blocks run as Winograd F(4x4, 3x3) (`winograd.py`: fewer multiplications, the same accuracy)
where that pays: stages 2-4 of a ResNet at the reference size, not the small maps of small inputs. The large tensors (the stem's output, every stage's but the last, Winograd's scratch)
live in a per-thread `Workspace` kept between calls: at 800x1066 a ResNet-50 stage-1 output is 55 MB,
and a fresh tensor that size is a fresh mapping whose pages fault in on first touch. The price:
that memory (~200 MB at 800x1066) stays allocated while the thread and the body live.

Built only for CPU fp32 inference on a body whose batch norms are already folded
(`fuse.fold_frozen_batchnorm`); `fuse.optimize_for_inference` decides when, and checks it against
the modules it replaces before using it.
"""
from __future__ import annotations

import threading
from typing import Sequence

import torch
from torch import Tensor, nn

from . import winograd
from .workspace import Workspace

# The input size the weights are laid out for: the reference evaluation size. Other sizes run
# correctly (oneDNN reorders if the layout it picks differs).
PACKING_HINT = (1, 3, 800, 1066)


def supported(device: torch.device) -> bool:
    """Whether this torch build has the fused oneDNN convolutions on `device`."""
    return (device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
            and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
            and hasattr(torch.ops.mkldnn, "_convolution_pointwise_"))


def _length(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length along one axis of a convolution or pooling window."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class _Conv:
    """One folded convolution (weight + bias) with its weight pre-packed for oneDNN."""

    def __init__(self, conv: nn.Conv2d, input_size: Sequence[int]):
        if conv.bias is None or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("expects a folded convolution (with bias, numeric zero padding)")
        self.args = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        self.weight = torch._C._nn.mkldnn_reorder_conv2d_weight(
            conv.weight.detach().to_mkldnn(), *self.args, list(input_size))
        self.bias = conv.bias.detach()
        self.out_channels = conv.out_channels
        self.geometry = tuple(zip(conv.kernel_size, conv.stride, conv.padding, conv.dilation))  # per axis
        self.output_size = self.size_for(input_size)

    def size_for(self, input_size: Sequence[int]) -> tuple[int, int, int, int]:
        """The output's [N, C, H, W] for an input of `input_size`."""
        n, _, h, w = input_size
        return (n, self.out_channels, *(_length(length, *axis) for length, axis in zip((h, w), self.geometry)))

    def __call__(self, x: Tensor, relu: bool = True, out: Tensor | None = None) -> Tensor:
        """The convolution (and ReLU), into `out`'s memory if given (a channels-last tensor of the
        output's size) or a new tensor."""
        if out is None:
            return torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, *self.args,
                                                           "relu" if relu else "none", [], "")
        torch.ops.mkldnn._convolution_pointwise_.binary(out.zero_(), x, self.weight, self.bias, *self.args,
                                                        "add", 1.0, "relu" if relu else None, [], "")
        return out

    def add_into(self, x: Tensor, shortcut: Tensor) -> Tensor:
        """relu(conv(x) + shortcut), written into `shortcut`'s memory."""
        torch.ops.mkldnn._convolution_pointwise_.binary(shortcut, x, self.weight, self.bias, *self.args,
                                                        "add", 1.0, None, [], None)
        return shortcut.relu_()


class _Block:
    """A torchvision BasicBlock or Bottleneck: convs with ReLU, the last one added to the shortcut."""

    def __init__(self, block: nn.Module, input_size: Sequence[int]):
        names = [n for n in ("conv1", "conv2", "conv3") if hasattr(block, n)]
        _check_folded(block, [n.replace("conv", "bn") for n in names])
        self.convs = []
        self.winograd: dict[int, winograd.WinogradConv3x3] = {}  # by index into convs: where it may pay
        size = input_size
        for i, name in enumerate(names):
            module = getattr(block, name)
            self.convs.append(_Conv(module, size))
            # The last one adds into the shortcut, which oneDNN does in place: it stays direct.
            if winograd.applies(module) and module.in_channels >= winograd.MIN_CHANNELS and i < len(names) - 1:
                self.winograd[i] = winograd.WinogradConv3x3(module)
            size = self.convs[-1].output_size
        self.output_size = size
        down = block.downsample
        if down is not None:
            if not (isinstance(down, nn.Sequential) and isinstance(down[0], nn.Conv2d)
                    and all(isinstance(m, nn.Identity) for m in down[1:])):
                raise ValueError("expects a folded downsample (conv, Identity)")
            self.downsample = _Conv(down[0], input_size)
        else:
            self.downsample = None

    def __call__(self, x: Tensor, workspace: Workspace, pooled: bool, parity: int) -> Tensor:
        """The block on `x`. Winograd convolutions take their scratch space from `workspace`; with
        `pooled`, so do the others' outputs (the shortcut under the key `("shortcut", parity)`, so
        that consecutive stages alternate between two)."""
        def out(key, conv: _Conv, size) -> Tensor | None:
            return workspace.channels_last(key, conv.size_for(size)) if pooled else None

        shortcut = x
        if self.downsample is not None:
            shortcut = self.downsample(x, relu=False, out=out(("shortcut", parity), self.downsample, x.shape))
        y = x
        for i, conv in enumerate(self.convs[:-1]):
            if i in self.winograd and winograd.pays_off(y.shape):
                y = self.winograd[i](y, workspace)
            else:
                y = conv(y, out=out(("block", i), conv, y.shape))
        return self.convs[-1].add_into(y, shortcut)


def _check_folded(module: nn.Module, bn_names: Sequence[str]) -> None:
    for name in bn_names:
        if not isinstance(getattr(module, name, nn.Identity()), nn.Identity):
            raise ValueError(f"{name} is not folded into its convolution")


class FusedResNetBody(nn.Module):
    """Stands in for a folded `IntermediateLayerGetter` ResNet body at CPU inference: same input
    ([B, 3, H, W]), same output ({"0": last stage's features}, channels-last).

    Not trainable, and its weights live outside the state dict (oneDNN's blocked tensors)."""

    def __init__(self, body: nn.Module, input_size: Sequence[int] = PACKING_HINT):
        super().__init__()
        children = dict(body.named_children())
        if list(children)[:4] != ["conv1", "bn1", "relu", "maxpool"]:
            raise ValueError("expects a torchvision ResNet body")
        _check_folded(body, ["bn1"])
        self.output_name = next(iter(body.return_layers.values()))
        self.stem = _Conv(children["conv1"], input_size)
        pool = children["maxpool"]
        self.pool = (pool.kernel_size, pool.stride, pool.padding)
        n, c, h, w = self.stem.output_size
        size = (n, c, *(_length(length, *self.pool) for length in (h, w)))
        self.stages: list[list[_Block]] = []
        for name, layer in list(children.items())[4:]:
            if not name.startswith("layer"):
                raise ValueError(f"unexpected module {name} in a ResNet body")
            self.stages.append([])
            for block in layer:
                self.stages[-1].append(_Block(block, size))
                size = self.stages[-1][-1].output_size
        self._local = threading.local()  # each thread its own workspace

    @property
    def workspace(self) -> Workspace:
        """This thread's scratch tensors: Winograd's, the stem's output and the tensors of every
        stage but the last (the largest, 7-55 MB each at 800x1066), kept between calls."""
        if not hasattr(self._local, "workspace"):
            self._local.workspace = Workspace()
        return self._local.workspace

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        workspace = self.workspace
        x = images.contiguous(memory_format=torch.channels_last)
        x = self.stem(x, out=workspace.channels_last("stem", self.stem.size_for(x.shape)))
        x = nn.functional.max_pool2d(x, *self.pool)
        for i, stage in enumerate(self.stages):
            pooled = i < len(self.stages) - 1  # never the output's own memory
            for block in stage:
                x = block(x, workspace, pooled, parity=i % 2)
        return {self.output_name: x}
