"""Winograd F(4x4, 3x3): the transforms compute a correlation exactly, the convolution matches a
float64 direct one at any size, a workspace is reused safely, and each thread of a fused ResNet body
has its own."""
from __future__ import annotations

import threading

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from detr_core.infer.fast import winograd
from detr_core.infer.fast.winograd import WinogradConv3x3, toom_cook
from detr_core.infer.fast.workspace import Workspace


@pytest.mark.parametrize("m,points", [(4, winograd.POINTS), (2, (0.0, 1.0, -1.0)), (6, (0, 1, -1, 2, -2, 0.5, -0.5))])
def test_transforms_compute_a_correlation(m, points):
    bt, g, at = toom_cook(m, 3, points)
    gen = torch.Generator().manual_seed(0)
    kernel = torch.randn(3, dtype=torch.float64, generator=gen)
    signal = torch.randn(m + 2, dtype=torch.float64, generator=gen)
    expected = torch.stack([(kernel * signal[i:i + 3]).sum() for i in range(m)])
    assert torch.allclose(at @ ((g @ kernel) * (bt @ signal)), expected, atol=1e-12)


def test_points_must_fit_the_tile():
    with pytest.raises(ValueError, match="needs 5 distinct finite points"):
        toom_cook(4, 3, (0.0, 1.0, -1.0, 1.0, 2.0))


def _conv(cin: int, cout: int, seed: int = 0) -> nn.Conv2d:
    torch.manual_seed(seed)
    conv = nn.Conv2d(cin, cout, 3, padding=1)
    nn.init.normal_(conv.bias, std=0.1)
    return conv.eval().requires_grad_(False)


def _reference(conv: nn.Conv2d, x: torch.Tensor, relu: bool) -> torch.Tensor:
    y = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=1)
    return y.relu() if relu else y


@pytest.mark.parametrize("shape", [(1, 16, 8, 12), (1, 16, 13, 9), (2, 16, 5, 7), (1, 16, 1, 1), (1, 16, 4, 3)])
@pytest.mark.parametrize("relu", [True, False])
def test_matches_a_direct_convolution(shape, relu):
    conv = _conv(shape[1], 24)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1)).contiguous(memory_format=torch.channels_last)
    got = WinogradConv3x3(conv)(x, Workspace(), relu=relu)
    expected = _reference(conv, x, relu)
    assert got.shape == expected.shape
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert (got.double() - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_accuracy_is_that_of_a_direct_convolution_at_resnet_widths():
    conv = _conv(256, 256)
    x = torch.randn(1, 256, 50, 67, generator=torch.Generator().manual_seed(1)).relu()
    x = x.contiguous(memory_format=torch.channels_last)
    expected = _reference(conv, x, relu=False)
    scale = expected.abs().max()
    wino_err = (WinogradConv3x3(conv)(x, Workspace(), relu=False).double() - expected).abs().max() / scale
    direct_err = (conv(x).double() - expected).abs().max() / scale
    assert wino_err <= 4 * max(direct_err, 1e-6)


def test_a_workspace_serves_convolutions_of_any_size_in_turn():
    workspace = Workspace()
    small, large = _conv(8, 8, seed=1), _conv(32, 16, seed=2)
    gen = torch.Generator().manual_seed(3)
    inputs = [(small, torch.randn(1, 8, 6, 6, generator=gen)), (large, torch.randn(2, 32, 21, 17, generator=gen)),
              (small, torch.randn(1, 8, 9, 30, generator=gen))]
    for conv, x in inputs:
        got = WinogradConv3x3(conv)(x.contiguous(memory_format=torch.channels_last), workspace)
        expected = _reference(conv, x, relu=True)
        assert (got.double() - expected).abs().max() <= 1e-5 * expected.abs().max()
    assert workspace.nbytes > 0


@pytest.mark.parametrize("kwargs", [dict(stride=2), dict(dilation=2, padding=2), dict(groups=2),
                                    dict(padding=0), dict(kernel_size=1, padding=0)])
def test_applies_only_to_plain_3x3_same_convolutions(kwargs):
    conv = nn.Conv2d(8, 8, **{"kernel_size": 3, "padding": 1, **kwargs})
    assert not winograd.applies(conv)
    with pytest.raises(ValueError, match="expects a folded 3x3"):
        WinogradConv3x3(conv)
    assert winograd.applies(nn.Conv2d(8, 8, 3, padding=1))


def test_pays_off_only_on_wide_and_large_enough_maps():
    assert winograd.pays_off((1, 256, 50, 67))
    assert not winograd.pays_off((1, 64, 200, 267))  # too few channels
    assert not winograd.pays_off((1, 512, 13, 17))  # too few tiles
    assert winograd.pays_off((4, 512, 13, 17))  # a batch has tiles enough


def test_threads_running_one_fused_body_each_get_the_right_answer(monkeypatch):
    from detr_core.model.config import ModelConfig
    from detr_core.model.detr import build
    from detr_core.infer.fast.fuse import fold_frozen_batchnorm
    from detr_core.infer.fast.fused_resnet import FusedResNetBody, supported

    if not supported(torch.device("cpu")):
        pytest.skip("torch without oneDNN")
    torch.manual_seed(0)
    body = build(ModelConfig(backbone="resnet18")).eval().backbone[0].body.requires_grad_(False)
    fold_frozen_batchnorm(body)
    body = body.to(memory_format=torch.channels_last)
    fused = FusedResNetBody(body, input_size=(1, 3, 256, 320))
    calls = []
    real_call = WinogradConv3x3.__call__
    monkeypatch.setattr(WinogradConv3x3, "__call__", lambda self, *a, **k: calls.append(1) or real_call(self, *a, **k))
    gen = torch.Generator().manual_seed(1)
    images = [torch.randn(1, 3, 256 + 16 * i, 320 - 24 * i, generator=gen) for i in range(4)]
    with torch.inference_mode():
        expected = [body(x.contiguous(memory_format=torch.channels_last))["0"] for x in images]
    results: dict[int, list[torch.Tensor]] = {}

    def run(i: int) -> None:
        with torch.inference_mode():
            results[i] = [fused(x)["0"].clone() for x in images[i:] + images[:i] for _ in range(2)]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls  # stage 2 (128 channels, 32x40) went through Winograd
    for i, outputs in results.items():
        order = (expected[i:] + expected[:i])
        for got, want in zip(outputs, [e for e in order for _ in range(2)]):
            assert (got - want).abs().max() <= 1e-5 * want.abs().max()
