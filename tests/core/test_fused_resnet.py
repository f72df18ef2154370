"""The fused-kernel ResNet body gives the folded body's outputs, for every backbone the config
offers, at sizes other than the one its weights are laid out for; the Detector uses it only where
it applies."""
from __future__ import annotations

import copy

import pytest
import torch

from detr_core.model.config import ModelConfig, preset
from detr_core.infer.detector import Detector
from detr_core.model.detr import build
from detr_core.infer.fast.fuse import fold_frozen_batchnorm
from detr_core.infer.fast.fused_resnet import FusedResNetBody, supported

pytestmark = pytest.mark.skipif(not supported(torch.device("cpu")), reason="torch without oneDNN")


def _body(backbone: str, dilation: bool = False, stages: int = 4, fold: bool = True):
    torch.manual_seed(0)
    model = build(ModelConfig(backbone=backbone, dilation=dilation, backbone_stages=stages)).eval()
    g = torch.Generator().manual_seed(1)
    for name, buf in model.named_buffers():  # real statistics, so folding changes the weights
        if name.endswith("running_var"):
            buf.copy_(torch.rand(buf.shape, generator=g) + 0.5)
        elif name.endswith("running_mean"):
            buf.copy_(torch.randn(buf.shape, generator=g) * 0.1)
    body = copy.deepcopy(model.backbone[0].body).requires_grad_(False)
    if fold:
        fold_frozen_batchnorm(body)
    return body.to(memory_format=torch.channels_last)


@pytest.mark.parametrize("backbone,dilation,stages", [
    ("resnet18", False, 4), ("resnet34", False, 3), ("resnet50", False, 4), ("resnet50", True, 4)])
def test_fused_body_equals_the_folded_body(backbone, dilation, stages):
    body = _body(backbone, dilation, stages)
    fused = FusedResNetBody(body, input_size=(1, 3, 160, 224))
    for shape in [(1, 3, 160, 224), (1, 3, 121, 97), (2, 3, 64, 80), (1, 3, 330, 250)]:  # the last: Winograd's size
        x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
        with torch.inference_mode():
            expected = body(x.contiguous(memory_format=torch.channels_last))["0"]
            got = fused(x)["0"]  # takes any memory layout
        assert got.shape == expected.shape
        assert (got - expected).abs().max() <= 1e-5 * expected.abs().max()
        assert got.is_contiguous(memory_format=torch.channels_last)


def test_refuses_a_body_whose_batch_norms_are_not_folded():
    with pytest.raises(ValueError, match="bn1 is not folded"):
        FusedResNetBody(_body("resnet18", fold=False))


def test_detector_uses_it_for_fp32_on_cpu_only():
    cfg = preset("tiny", num_classes=2)
    model = build(cfg).eval()
    fp32 = Detector(model, cfg, ["a", "b"], device="cpu")
    bf16 = Detector(model, cfg, ["a", "b"], device="cpu", precision="bf16")
    assert isinstance(fp32.model.backbone[0].body, FusedResNetBody)
    assert not isinstance(bf16.model.backbone[0].body, FusedResNetBody)
    assert not isinstance(model.backbone[0].body, FusedResNetBody)  # the original is untouched


def test_an_output_survives_the_next_call():
    """The body keeps its large intermediate tensors between calls; what it returns is not one of them."""
    fused = FusedResNetBody(_body("resnet50"), input_size=(1, 3, 160, 224))
    gen = torch.Generator().manual_seed(3)
    with torch.inference_mode():
        first = fused(torch.randn(1, 3, 160, 224, generator=gen))["0"]
        kept = first.clone()
        fused(torch.randn(1, 3, 200, 150, generator=gen))
        fused(torch.randn(1, 3, 160, 224, generator=gen))
    assert torch.equal(first, kept)
    assert fused.workspace.nbytes > 0

