"""Hugging Face DetrForObjectDetection folders give our model the same outputs as transformers.

Random weights everywhere (frozen-BN buffers and LayerNorms too, so a swapped or missed mapping
shows), saved with save_pretrained (which writes the legacy v4 names) and as transformers v5's
in-memory names; timm and transformers ResNet backbones; DC5; padded batches; segmentation models;
and the same weights through the official layout.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from detr_core.checkpoints import load_checkpoint
from detr_core.errors import CheckpointError

transformers = pytest.importorskip("transformers")
from transformers import DetrConfig, DetrForObjectDetection, DetrForSegmentation, ResNetConfig  # noqa: E402

SMALL = dict(d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
             decoder_attention_heads=4, encoder_ffn_dim=96, decoder_ffn_dim=96, num_queries=7)
LABELS = {0: "N/A", 1: "apple", 2: "pear", 3: "plum", 4: "fig"}
ATOL = 1e-4


def _randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values for every parameter and buffer (frozen BN statistics, LayerNorm affine)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("num_batches_tracked"):
                continue
            elif t.dim() == 1 and name.endswith("weight"):  # BN / LayerNorm scale
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.dim() == 1:  # biases, BN shift and running_mean
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return model.eval()


def _hf(seed: int = 0, segmentation: bool = False, **config) -> torch.nn.Module:
    torch.manual_seed(seed)
    cfg = DetrConfig(use_pretrained_backbone=False, id2label=LABELS, **{**SMALL, **config})
    return _randomise((DetrForSegmentation if segmentation else DetrForObjectDetection)(cfg), seed)


def _batch(seed: int = 0):
    """Two images of different sizes padded bottom/right into one batch: (images [2, 3, 96, 128],
    our mask [2, 96, 128] True = padding)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.zeros(2, 3, 96, 128)
    mask = torch.ones(2, 96, 128, dtype=torch.bool)
    for i, (h, w) in enumerate([(96, 128), (70, 100)]):
        images[i, :, :h, :w] = torch.randn(3, h, w, generator=g)
        mask[i, :h, :w] = False
    return images, mask


def _assert_equivalent(hf_model, ours, single_only: bool = False):
    images, mask = _batch()
    with torch.no_grad():
        theirs = hf_model(pixel_values=images[:1])
        mine = ours(images[:1])
        torch.testing.assert_close(mine["pred_logits"], theirs.logits, rtol=0, atol=ATOL)
        torch.testing.assert_close(mine["pred_boxes"], theirs.pred_boxes, rtol=0, atol=ATOL)
        if single_only:
            return
        theirs = hf_model(pixel_values=images, pixel_mask=(~mask).long())  # HF: 1 = real pixel
        mine = ours(images, mask)
        torch.testing.assert_close(mine["pred_logits"], theirs.logits, rtol=0, atol=ATOL)
        torch.testing.assert_close(mine["pred_boxes"], theirs.pred_boxes, rtol=0, atol=ATOL)


@pytest.fixture(scope="module")
def timm18(tmp_path_factory):
    hf_model = _hf(use_timm_backbone=True, backbone="resnet18")
    folder = tmp_path_factory.mktemp("hf") / "timm18"
    hf_model.save_pretrained(folder)
    return hf_model, folder


def test_timm_backbone_folder(timm18):
    hf_model, folder = timm18
    loaded = load_checkpoint(folder)
    assert loaded.kind == "huggingface-timm"
    assert loaded.class_names == ["N/A", "apple", "pear", "plum", "fig"]
    cfg = loaded.config
    assert (cfg.backbone, cfg.hidden_dim, cfg.nheads, cfg.enc_layers, cfg.dec_layers, cfg.dim_feedforward,
            cfg.num_queries, cfg.num_classes, cfg.dilation) == ("resnet18", 64, 4, 2, 2, 96, 7, 5, False)
    assert loaded.metadata == json.loads((folder / "config.json").read_text())
    assert loaded.description == (f"Hugging Face DETR (timm backbone): R18, 5 classes (apple, pear, plum, ...), "
                                  f"7 queries ({folder})")
    _assert_equivalent(hf_model, loaded.model)
    # Pointing at the weights file inside the folder works too.
    assert load_checkpoint(folder / "model.safetensors").kind == "huggingface-timm"


def _v5_to_legacy(key: str) -> str:
    """The renames transformers v4 -> v5 made, undone (written here, independently of the loader)."""
    key = key.replace("model.backbone.model.", "model.backbone.conv_encoder.model.")
    key = key.replace(".o_proj.", ".out_proj.")
    return re.sub(r"\.layers\.(\d+)\.mlp\.fc([12])\.", r".layers.\1.fc\2.", key)


@pytest.mark.parametrize("names,fmt", [("v5", "safetensors"), ("v5", "bin"), ("legacy", "safetensors"),
                                       ("legacy", "bin")])
def test_both_name_generations_in_both_file_formats(timm18, tmp_path, names, fmt):
    hf_model, folder = timm18
    in_memory = hf_model.state_dict()  # v5 names
    assert any(".o_proj." in k for k in in_memory) and any(".mlp.fc1." in k for k in in_memory)
    sd = {(_v5_to_legacy(k) if names == "legacy" else k): v.clone() for k, v in in_memory.items()}
    if names == "legacy":  # what save_pretrained wrote: the published facebook/detr-resnet-50 names
        assert sd.keys() == load_file(folder / "model.safetensors").keys()
        assert any("backbone.conv_encoder.model.layer1.0.conv1" in k for k in sd)
    target = tmp_path / "copy"
    target.mkdir()
    shutil.copy(folder / "config.json", target / "config.json")
    if fmt == "safetensors":
        save_file(sd, target / "model.safetensors")
    else:
        torch.save(sd, target / "pytorch_model.bin")
    loaded = load_checkpoint(target)
    _assert_equivalent(hf_model, loaded.model, single_only=True)


@pytest.mark.parametrize("layer_type,depths", [("basic", [2, 2, 2, 2]), ("bottleneck", [3, 4, 6, 3])],
                         ids=["resnet18", "resnet50"])
def test_transformers_resnet_backbone_folder(tmp_path, layer_type, depths):
    hidden = [64, 128, 256, 512] if layer_type == "basic" else [256, 512, 1024, 2048]
    backbone = ResNetConfig(depths=depths, layer_type=layer_type, hidden_sizes=hidden, out_features=["stage4"])
    hf_model = _hf(seed=1, use_timm_backbone=False, backbone_config=backbone)
    hf_model.save_pretrained(tmp_path)
    assert any(".encoder.stages.0.layers.0.layer.0.normalization.running_var" in k
               for k in load_file(tmp_path / "model.safetensors"))
    loaded = load_checkpoint(tmp_path)
    assert loaded.kind == "huggingface-resnet"
    assert loaded.config.backbone == ("resnet18" if layer_type == "basic" else "resnet50")
    assert "(transformers ResNet backbone)" in loaded.description
    _assert_equivalent(hf_model, loaded.model)


def test_dc5_timm_resnet50(tmp_path):
    hf_model = _hf(seed=2, use_timm_backbone=True, backbone="resnet50", dilation=True)
    hf_model.save_pretrained(tmp_path)
    loaded = load_checkpoint(tmp_path)
    assert loaded.config.dilation is True and loaded.config.backbone == "resnet50"
    assert "R50-DC5" in loaded.description
    _assert_equivalent(hf_model, loaded.model, single_only=True)


def test_segmentation_model_loads_its_detector(tmp_path):
    hf_model = _hf(seed=3, segmentation=True, use_timm_backbone=True, backbone="resnet18",
                   encoder_attention_heads=8, decoder_attention_heads=8)
    hf_model.save_pretrained(tmp_path)
    loaded = load_checkpoint(tmp_path)
    assert "detection part only" in loaded.description
    _assert_equivalent(hf_model.detr, loaded.model, single_only=True)


def _official_from_hf(hf_sd: dict) -> dict:
    """HF v5 in-memory names -> official names, following detr-facts.md (independent of the loader)."""
    out = {}
    for key, value in hf_sd.items():
        if key.endswith("num_batches_tracked"):
            continue
        k = key.replace("model.backbone.model.", "backbone.0.body.")
        k = k.replace("model.input_projection.", "input_proj.").replace("model.query_position_embeddings.", "query_embed.")
        k = k.replace("class_labels_classifier.", "class_embed.").replace("bbox_predictor.", "bbox_embed.")
        k = k.replace("model.decoder.layernorm.", "transformer.decoder.norm.")
        k = re.sub(r"^model\.(encoder|decoder)\.layers\.", r"transformer.\1.layers.", k)
        k = k.replace(".mlp.fc1.", ".linear1.").replace(".mlp.fc2.", ".linear2.").replace(".o_proj.", ".out_proj.")
        k = k.replace(".encoder_attn.", ".multihead_attn.")
        if ".encoder.layers." in k:
            k = k.replace(".self_attn_layer_norm.", ".norm1.").replace(".final_layer_norm.", ".norm2.")
        else:
            k = k.replace(".self_attn_layer_norm.", ".norm1.").replace(".encoder_attn_layer_norm.", ".norm2.")
            k = k.replace(".multihead_attn_layer_norm.", ".norm2.").replace(".final_layer_norm.", ".norm3.")
        out[k] = value
    for key in [k for k in out if ".q_proj." in k]:
        prefix, param = key.split(".q_proj.")
        out[f"{prefix}.in_proj_{param}"] = torch.cat(
            [out.pop(f"{prefix}.{c}_proj.{param}") for c in "qkv"])  # [3C, C] / [3C]
    return out


def test_same_weights_through_the_official_layout(timm18, tmp_path):
    hf_model, _ = timm18
    path = tmp_path / "converted.pth"
    torch.save({"model": _official_from_hf(hf_model.state_dict()), "args": argparse.Namespace(nheads=4)}, path)
    loaded = load_checkpoint(path)
    assert loaded.kind == "official"  # no optimizer or epoch: not a training checkpoint
    _assert_equivalent(hf_model, loaded.model)


def test_auxiliary_loss_is_flagged_because_transformers_computes_differently(tmp_path):
    hf_model = _hf(seed=4, use_timm_backbone=True, backbone="resnet18", auxiliary_loss=True)
    hf_model.save_pretrained(tmp_path)
    loaded = load_checkpoint(tmp_path)
    assert "auxiliary_loss" in loaded.description and "\n" not in loaded.description
    images, _ = _batch()
    with torch.no_grad():
        ours = loaded.model(images[:1])["pred_logits"]
        with_aux = hf_model(pixel_values=images[:1]).logits
        hf_model.config.auxiliary_loss = False
        without_aux = hf_model(pixel_values=images[:1]).logits
    torch.testing.assert_close(ours, without_aux, rtol=0, atol=ATOL)
    assert (ours - with_aux).abs().max() > 1e-3


def test_hf_specific_errors(timm18, tmp_path):
    _, folder = timm18
    sd = load_file(folder / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())

    def write(state, cfg):
        (tmp_path / "config.json").write_text(json.dumps(cfg))
        save_file(state, tmp_path / "model.safetensors")

    write({k: v for k, v in sd.items() if k != "model.encoder.layers.1.self_attn.k_proj.weight"}, config)
    with pytest.raises(CheckpointError, match=r"missing keys .*k_proj.weight of "
                                              r"transformer.encoder.layers.1.self_attn.in_proj_weight"):
        load_checkpoint(tmp_path)
    write({**sd, "model.extra.weight": torch.zeros(1)}, config)
    with pytest.raises(CheckpointError, match="unknown checkpoint layout .*model.extra.weight"):
        load_checkpoint(tmp_path)
    write(sd, {**config, "num_queries": 100})
    with pytest.raises(CheckpointError, match="num_queries is 100 in config.json but 7 in the weights"):
        load_checkpoint(tmp_path)
    write(sd, {**config, "id2label": {"0": "a", "1": "b"}})
    with pytest.raises(CheckpointError, match="id2label has 2 labels but the class head has 5 classes"):
        load_checkpoint(tmp_path)
    write(sd, {**config, "backbone_config": {**config["backbone_config"], "backbone": "resnet34"}})
    with pytest.raises(CheckpointError, match="backbone is resnet34 in config.json but resnet18 in the weights"):
        load_checkpoint(tmp_path)
