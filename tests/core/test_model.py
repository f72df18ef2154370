"""The DETR model: reference parameter names and counts, shapes, fused attention = explicit."""
from __future__ import annotations

import pytest
import torch

from detr_core.model.attention import capture_attention
from detr_core.model.config import ModelConfig, preset
from detr_core.model.detr import build, parameter_count


def test_r50_has_the_reference_layout():
    model = build(preset("detr-r50"))
    sd = model.state_dict()
    assert len(sd) == 458
    assert parameter_count(model) == (41_302_368, 41_524_768)
    assert sd["transformer.encoder.layers.0.self_attn.in_proj_weight"].shape == (768, 256)
    assert sd["transformer.decoder.layers.5.multihead_attn.in_proj_weight"].shape == (768, 256)
    assert sd["class_embed.weight"].shape == (92, 256)
    assert sd["input_proj.weight"].shape == (256, 2048, 1, 1)
    assert sd["query_embed.weight"].shape == (100, 256)
    assert "transformer.decoder.norm.weight" in sd
    assert not any("num_batches_tracked" in k for k in sd)
    assert not any(k.startswith("transformer.encoder.norm") for k in sd), "post-norm: no encoder norm"
    assert not any(k.startswith("backbone.0.body.fc") for k in sd)
    # Stem and layer1 are frozen, as the reference.
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert "backbone.0.body.conv1.weight" in frozen
    assert "backbone.0.body.layer1.0.conv1.weight" in frozen
    assert "backbone.0.body.layer2.0.conv1.weight" not in frozen


@pytest.mark.parametrize("backbone,channels", [("resnet18", 512), ("resnet34", 512), ("resnet101", 2048)])
def test_backbones(backbone, channels):
    cfg = preset("tiny", backbone=backbone)
    model = build(cfg)
    assert model.input_proj.weight.shape == (cfg.hidden_dim, channels, 1, 1)


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(hidden_dim=100, nheads=8)
    with pytest.raises(ValueError, match="backbone"):
        ModelConfig(backbone="vgg16")
    with pytest.raises(ValueError, match="unknown config"):
        preset("huge")
    cfg = preset("tiny", num_classes=3)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_forward_shapes_and_aux():
    cfg = preset("tiny", num_classes=7)
    model = build(cfg)
    images = torch.randn(2, 3, 96, 128)
    mask = torch.zeros(2, 96, 128, dtype=torch.bool)
    mask[1, :, 100:] = True
    model.train()
    out = model(images, mask)
    B, Q = 2, cfg.num_queries
    assert out["pred_logits"].shape == (B, Q, 8)
    assert out["pred_boxes"].shape == (B, Q, 4)
    assert ((out["pred_boxes"] >= 0) & (out["pred_boxes"] <= 1)).all()
    assert len(out["aux_outputs"]) == cfg.dec_layers - 1
    model.eval()
    assert "aux_outputs" not in model(images, mask)


def test_dc5_halves_the_stride():
    with pytest.raises(ValueError, match="DC5"):
        preset("tiny", dilation=True)
    cfg = preset("tiny", backbone="resnet50", dilation=True)
    model = build(cfg).eval()
    features, _, _ = model.backbone(torch.randn(1, 3, 128, 128), None)
    assert features.shape[-2:] == (8, 8)
    assert cfg.stride == 16


def test_fused_attention_equals_explicit_weights_and_maps_sum_to_one():
    torch.manual_seed(0)
    cfg = preset("tiny")
    model = build(cfg).eval()
    images = torch.randn(2, 3, 128, 160)
    mask = torch.zeros(2, 128, 160, dtype=torch.bool)
    mask[1, 96:, :] = True
    mask[1, :, 128:] = True
    with torch.no_grad():
        fused = model(images, mask)
        with capture_attention(model.transformer, decoder="all", encoder="last", per_head=True) as cap:
            explicit = model(images, mask)
    torch.testing.assert_close(fused["pred_logits"], explicit["pred_logits"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fused["pred_boxes"], explicit["pred_boxes"], atol=1e-5, rtol=1e-5)
    assert sorted(cap.decoder_cross) == list(range(cfg.dec_layers))
    assert sorted(cap.encoder_self) == [cfg.enc_layers - 1]
    h, w = 128 // 32, 160 // 32
    weights = cap.decoder_cross[cfg.dec_layers - 1]
    assert weights.shape == (2, cfg.nheads, cfg.num_queries, h * w)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, cfg.nheads, cfg.num_queries))
    # Padded feature cells get no attention at all.
    padded = torch.nn.functional.interpolate(mask[None].float(), size=(h, w))[0].bool().flatten(1)
    assert weights[1][..., padded[1]].abs().max() == 0
    # After the block, the layers are fused again and nothing is captured.
    assert all(layer.multihead_attn.capture is None for layer in model.transformer.decoder.layers)


def test_gradients_flow_to_trainable_parameters_only():
    cfg = preset("tiny", num_classes=2)
    model = build(cfg).train()
    out = model(torch.randn(1, 3, 64, 64))
    (out["pred_logits"].sum() + out["pred_boxes"].sum()).backward()
    assert model.class_embed.weight.grad is not None
    assert model.backbone[0].body.layer4[0].conv1.weight.grad is not None
    assert model.backbone[0].body.conv1.weight.grad is None
