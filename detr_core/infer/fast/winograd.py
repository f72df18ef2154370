"""Winograd F(4x4, 3x3) convolution for channels-last CPU inference.

A 3x3 convolution (stride 1, padding 1) computed tile by tile: each 6x6 input tile is transformed
(B^T d B), multiplied channel-wise with the transformed filter (G g G^T) as 36 matrix products, and
transformed back (A^T m A) into a 4x4 output tile. That takes 36 multiplications per 16 outputs
instead of 144: the 3x3 convolutions of a ResNet-50 stage 2-4 run 1.5-2x faster than oneDNN's direct
ones on this kind of CPU. Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016).

Accuracy: the transforms come from the Toom-Cook construction at the points 0, 1, -1, 1/2, -2 and
infinity (Barabasz et al., "Error analysis and improving the accuracy of Winograd convolution",
2020), which keeps the fp32 error of one convolution near that of a direct one (~2e-6 relative to
the output's largest value, against ~7e-6 at the textbook points 0, +-1, +-2).

The intermediate tensors live in a `Workspace` reused from call to call (fresh ones of tens of
megabytes would cost more in page faults than the arithmetic saved).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .workspace import Workspace

TILE = 4  # output tile side: F(4x4, 3x3) on 6x6 input tiles
POINTS = (0.0, 1.0, -1.0, 0.5, -2.0)  # plus the point at infinity
_BUFFERS = ("winograd.0", "winograd.1")  # the workspace keys the stages alternate between
# Where it pays against oneDNN's direct kernels (measured on a 2-core AVX2 CPU): from 128 channels
# (below, transforming a large feature map costs more than the saved multiplications) and from 32
# tiles (a 20x27 map: 0.6-0.8x the direct time; at 13x17 it is 0.9-1.2x, at 8x10 1.3-1.6x).
MIN_CHANNELS = 128
MIN_TILES = 32


def toom_cook(m: int, r: int, points: Sequence[float]) -> tuple[Tensor, Tensor, Tensor]:
    """B^T [n, n], G [n, r], A^T [m, n] (float64) of the 1-D Winograd correlation F(m, r), n = m + r - 1,
    from n - 1 finite interpolation points and infinity: y = A^T ((G g) * (B^T d))."""
    n = m + r - 1
    if len(points) != n - 1 or len(set(points)) != n - 1:
        raise ValueError(f"F({m}, {r}) needs {n - 1} distinct finite points")

    def evaluation(k: int) -> Tensor:  # values of a degree k-1 polynomial at the points, then its leading coefficient
        rows = [[p ** j for j in range(k)] for p in points] + [[0.0] * (k - 1) + [1.0]]
        return torch.tensor(rows, dtype=torch.float64)

    # A linear convolution is interpolate(evaluate(g) * evaluate(d)); a correlation is its transpose.
    return torch.linalg.inv(evaluation(n)).T.contiguous(), evaluation(r), evaluation(m).T.contiguous()


def applies(conv: nn.Conv2d) -> bool:
    """Whether `conv` is a plain 3x3 'same' convolution this module computes."""
    return (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.padding_mode == "zeros")


def pays_off(input_size: Sequence[int]) -> bool:
    """Whether Winograd beats a direct convolution on an [N, C, H, W] input of this size."""
    n, c, h, w = input_size
    return c >= MIN_CHANNELS and n * -(-h // TILE) * -(-w // TILE) >= MIN_TILES


class WinogradConv3x3:
    """A folded 3x3 convolution (weight + bias), optionally followed by a ReLU, for fp32 CPU tensors.

    Its output is a channels-last view into the workspace, valid until the next Winograd convolution
    that uses the same workspace."""

    def __init__(self, conv: nn.Conv2d):
        if not applies(conv) or conv.bias is None:
            raise ValueError("expects a folded 3x3 convolution with stride 1, padding 1 and a bias")
        bt, g, at = toom_cook(TILE, 3, POINTS)
        a = TILE + 2
        self.input_transform = torch.kron(bt, bt).float()    # [36, 36]: tile (i, j) -> (k, l)
        self.output_transform = torch.kron(at, at).float()   # [16, 36]
        weight = conv.weight.detach().double()                # [out, in, 3, 3]
        u = torch.einsum("ki,ocij,lj->kloc", g, weight, g)    # [6, 6, out, in]
        self.filters = u.reshape(a * a, conv.out_channels, conv.in_channels).transpose(1, 2).float().contiguous()
        self.bias = conv.bias.detach().float()

    def __call__(self, x: Tensor, workspace: Workspace, relu: bool = True) -> Tensor:
        n, c, h, w = x.shape
        m, a = TILE, TILE + 2
        th, tw = -(-h // m), -(-w // m)
        tiles = n * th * tw
        out_channels = self.filters.shape[-1]

        padded = workspace.get(_BUFFERS[1], (n, th * m + 2, tw * m + 2, c))
        padded[:, 0].zero_()
        padded[:, h + 1:].zero_()
        padded[:, :, 0].zero_()
        padded[:, :, w + 1:].zero_()
        padded[:, 1:h + 1, 1:w + 1].copy_(x.permute(0, 2, 3, 1))
        d = workspace.get(_BUFFERS[0], (a, a, n, th, tw, c))
        d.copy_(padded.unfold(1, a, m).unfold(2, a, m).permute(4, 5, 0, 1, 2, 3))
        v = torch.mm(self.input_transform, d.view(a * a, -1), out=workspace.get(_BUFFERS[1], (a * a, tiles * c)))
        prod = torch.bmm(v.view(a * a, tiles, c), self.filters, out=workspace.get(_BUFFERS[0], (a * a, tiles, out_channels)))
        bias = workspace.get("winograd.bias", (tiles, out_channels))
        bias.copy_(self.bias)  # added by the same product that transforms back
        y = torch.addmm(bias.view(-1), self.output_transform, prod.view(a * a, -1),
                        out=workspace.get(_BUFFERS[1], (m * m, tiles * out_channels)))
        y = y.view(m, m, n, th, tw, out_channels)

        out = workspace.get(_BUFFERS[0], (n, h, w, out_channels))
        full_h, full_w = h // m, w // m
        # Whole tiles, then the partial last row and column of tiles, each written with the ReLU applied.
        for t_rows, rows_kept, rows in ((slice(0, full_h), m, slice(0, full_h * m)),
                                        (slice(full_h, th), h - full_h * m, slice(full_h * m, h))):
            for t_cols, cols_kept, cols in ((slice(0, full_w), m, slice(0, full_w * m)),
                                            (slice(full_w, tw), w - full_w * m, slice(full_w * m, w))):
                if rows.stop == rows.start or cols.stop == cols.start:
                    continue
                target = out[:, rows, cols].unflatten(1, (-1, rows_kept)).unflatten(3, (-1, cols_kept))
                tiles_out = y[:rows_kept, :cols_kept, :, t_rows, t_cols].permute(2, 3, 0, 4, 1, 5)
                if relu:
                    torch.clamp_min(tiles_out, 0.0, out=target)
                else:
                    target.copy_(tiles_out)
        return out.permute(0, 3, 1, 2)
