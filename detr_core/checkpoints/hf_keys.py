"""Hugging Face `DetrForObjectDetection` weight names -> the official DETR layout.

Two generations of names (transformers v5 writes the legacy ones to disk but uses the new ones in
memory, so both occur in files):
  legacy (v4, the published facebook/detr-resnet-50): model.backbone.conv_encoder.model.*,
      self_attn.out_proj, layers.N.fc1/fc2
  v5: model.backbone.model.*, self_attn.o_proj, layers.N.mlp.fc1/fc2
Two backbone layouts under that prefix:
  timm ResNet: torchvision's own names (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0/1)
  transformers ResNet: embedder.embedder.convolution/normalization,
      encoder.stages.S.layers.L.layer.I.convolution/normalization, ...shortcut.convolution/normalization
Attention: separate q_proj/k_proj/v_proj [C, C] are stacked (q, k, v rows) into in_proj_weight
[3C, C] and in_proj_bias [3C]. DetrForSegmentation prefixes detection keys with 'detr.'; its mask
head ('bbox_attention.*', 'mask_head.*') is dropped.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import Tensor

from ..errors import CheckpointError
from .layout import unknown_layout

_V5_TO_LEGACY = (
    (re.compile(r"^model\.backbone\.model\."), "model.backbone.conv_encoder.model."),
    (re.compile(r"\.o_proj\."), ".out_proj."),
    (re.compile(r"\.layers\.(\d+)\.mlp\.(fc[12])\."), r".layers.\1.\2."),
)
_PREFIXES = (  # legacy HF prefix -> official prefix
    ("model.input_projection.", "input_proj."),
    ("model.query_position_embeddings.", "query_embed."),
    ("model.decoder.layernorm.", "transformer.decoder.norm."),
    ("class_labels_classifier.", "class_embed."),
    ("bbox_predictor.", "bbox_embed."),
)
BACKBONE = "model.backbone.conv_encoder.model."
_LAYER = re.compile(r"^model\.(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)$")
_QKV = re.compile(r"^(self_attn|encoder_attn)\.([qkv])_proj$")
_MODULES = {  # module inside a layer: HF -> official
    "encoder": {"self_attn.out_proj": "self_attn.out_proj", "self_attn_layer_norm": "norm1",
                "final_layer_norm": "norm2", "fc1": "linear1", "fc2": "linear2"},
    "decoder": {"self_attn.out_proj": "self_attn.out_proj", "encoder_attn.out_proj": "multihead_attn.out_proj",
                "self_attn_layer_norm": "norm1", "encoder_attn_layer_norm": "norm2",
                "final_layer_norm": "norm3", "fc1": "linear1", "fc2": "linear2"},
}
_ATTENTION = {"self_attn": "self_attn", "encoder_attn": "multihead_attn"}
_HF_RESNET = (  # transformers ResNet -> torchvision names
    (re.compile(r"^embedder\.embedder\.convolution\.(.+)$"), lambda m: f"conv1.{m[1]}"),
    (re.compile(r"^embedder\.embedder\.normalization\.(.+)$"), lambda m: f"bn1.{m[1]}"),
    (re.compile(r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.shortcut\.convolution\.(.+)$"),
     lambda m: f"layer{int(m[1]) + 1}.{m[2]}.downsample.0.{m[3]}"),
    (re.compile(r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.shortcut\.normalization\.(.+)$"),
     lambda m: f"layer{int(m[1]) + 1}.{m[2]}.downsample.1.{m[3]}"),
    (re.compile(r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.(\d+)\.convolution\.(.+)$"),
     lambda m: f"layer{int(m[1]) + 1}.{m[2]}.conv{int(m[3]) + 1}.{m[4]}"),
    (re.compile(r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.(\d+)\.normalization\.(.+)$"),
     lambda m: f"layer{int(m[1]) + 1}.{m[2]}.bn{int(m[3]) + 1}.{m[4]}"),
)


def legacy_name(key: str) -> str:
    """A v5 name as the legacy (v4) name; legacy names are returned unchanged."""
    for pattern, replacement in _V5_TO_LEGACY:
        key = pattern.sub(replacement, key)
    return key


def backbone_layout(keys) -> str:
    """"resnet" (transformers' ResNet) or "timm" (torchvision-style names), from legacy keys."""
    hf = any(k.startswith(BACKBONE + "embedder.") or k.startswith(BACKBONE + "encoder.stages.") for k in keys)
    return "resnet" if hf else "timm"


def _backbone_name(rest: str, layout: str) -> str | None:
    if layout == "timm":
        return rest
    for pattern, rename in _HF_RESNET:
        m = pattern.match(rest)
        if m:
            return rename(m)
    return None


def split_segmentation(state_dict: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """DetrForSegmentation -> (its DetrForObjectDetection weights, dropped mask-head keys)."""
    if not any(k.startswith("detr.") for k in state_dict):
        return state_dict, []
    detection = {k[len("detr."):]: v for k, v in state_dict.items() if k.startswith("detr.")}
    dropped = [k for k in state_dict if k.startswith(("bbox_attention.", "mask_head."))]
    rest = [k for k in state_dict if not k.startswith("detr.") and k not in dropped]
    detection.update({k: state_dict[k] for k in rest})  # left for the unknown-key report
    return detection, dropped


def to_official(state_dict: dict[str, Tensor], path: Path | str) -> tuple[dict[str, Tensor], str]:
    """HF DetrForObjectDetection weights (either naming) -> (official state dict, backbone layout
    "timm" | "resnet"). Raises CheckpointError naming unknown or missing keys."""
    legacy = {legacy_name(k): v for k, v in state_dict.items() if not k.endswith(".num_batches_tracked")}
    if any("position_embedding.row_embeddings" in k for k in legacy):
        raise CheckpointError(f"{path} uses a learned position embedding; only the sine position "
                              f"encoding is supported")
    layout = backbone_layout(legacy)
    out: dict[str, Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, Tensor]] = {}  # (official attention prefix, param) -> q/k/v
    unknown = []
    for key, value in legacy.items():
        name = None
        if key.startswith(BACKBONE):
            rest = _backbone_name(key[len(BACKBONE):], layout)
            name = None if rest is None else "backbone.0.body." + rest
        elif m := _LAYER.match(key):
            which, index, module, param = m.groups()
            prefix = f"transformer.{which}.layers.{index}."
            if q := _QKV.match(module):
                qkv.setdefault((prefix + _ATTENTION[q[1]] + ".", param), {})[q[2]] = value
                continue
            if module in _MODULES[which]:
                name = f"{prefix}{_MODULES[which][module]}.{param}"
        else:
            for hf_prefix, official_prefix in _PREFIXES:
                if key.startswith(hf_prefix):
                    name = official_prefix + key[len(hf_prefix):]
                    break
        if name is None:
            unknown.append(key)
        else:
            out[name] = value
    if unknown:
        raise unknown_layout(path, unknown)
    for (prefix, param), parts in qkv.items():
        missing = [f"{c}_proj.{param}" for c in "qkv" if c not in parts]
        if missing:
            raise CheckpointError(f"missing keys in {path}: {', '.join(missing)} of {prefix}in_proj_{param}")
        out[f"{prefix}in_proj_{param}"] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)  # [3C, ...]
    return out, layout
