"""The official DETR key layout: recognising it and reading a ModelConfig off its tensor shapes.

Every reader (official, Hugging Face, project) turns its file into a `Parsed`: a state dict in the
official layout (`backbone.0.body.*`, `transformer.encoder.layers.N.*`, `class_embed`, ...) plus the
config, class names and a few words on what it was. The loader builds the model from that.

Shapes read here (official names; C = hidden_dim, Q = num_queries, K = num_classes):
  query_embed.weight [Q, C]; class_embed.weight [K+1, C] (last row: "no object");
  transformer.encoder.layers.0.linear1.weight [dim_feedforward, C];
  backbone.0.body.layer{1..4}.{block}.conv3.weight present only in bottleneck ResNets (50/101).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from ..errors import CheckpointError

BACKBONE_PREFIX = "backbone.0.body."
OFFICIAL_PREFIXES = ("backbone.0.", "transformer.", "class_embed.", "bbox_embed.", "query_embed.",
                     "input_proj.")
HF_PREFIXES = ("model.backbone.", "model.encoder.", "model.decoder.", "model.input_projection.",
               "model.query_position_embeddings.", "class_labels_classifier.", "bbox_predictor.")

# (blocks per stage, bottleneck blocks) -> torchvision ResNet
_RESNETS = {
    ((2, 2, 2, 2), False): "resnet18",
    ((3, 4, 6, 3), False): "resnet34",
    ((3, 4, 6, 3), True): "resnet50",
    ((3, 4, 23, 3), True): "resnet101",
}
_BLOCK = re.compile(r"^backbone\.0\.body\.layer([1-4])\.(\d+)\.(conv3\.)?")
_LAYER = re.compile(r"^transformer\.(encoder|decoder)\.layers\.(\d+)\.")


@dataclass
class Parsed:
    """A checkpoint read into the official layout, ready to build and load."""

    state_dict: dict[str, Tensor]  # official key names
    config: Any  # ModelConfig
    class_names: list[str]
    kind: str  # see LoadedCheckpoint.kind
    what: str  # start of the one-line description, e.g. "official DETR checkpoint"
    metadata: dict = field(default_factory=dict)
    note: str = ""  # a caveat, appended to the description


def is_official(keys) -> bool:
    return any(k.startswith(OFFICIAL_PREFIXES) for k in keys)


def is_huggingface(keys) -> bool:
    return any(k.startswith(HF_PREFIXES) or k.startswith("detr.model.") for k in keys)


def key_sample(keys, n: int = 3) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def unknown_layout(path: Path | str, keys) -> CheckpointError:
    return CheckpointError(f"unknown checkpoint layout in {path}: keys such as {key_sample(keys, 2)} "
                           f"are not DETR's (official, Hugging Face or project format)")


def refuse_unsupported(state_dict: dict[str, Tensor], path: Path | str) -> None:
    """Official-layout variants our model cannot compute, recognised by their extra keys."""
    if any(k.startswith("backbone.1.") for k in state_dict):
        raise CheckpointError(f"{path} uses a learned position embedding (backbone.1.*); "
                              f"only the sine position encoding is supported")
    if any(k.startswith("transformer.encoder.norm.") for k in state_dict):
        raise CheckpointError(f"{path} is a pre-norm DETR (transformer.encoder.norm); "
                              f"only the post-norm variant is supported")


def _require(state_dict: dict[str, Tensor], keys: list[str], path: Path | str) -> None:
    missing = [k for k in keys if k not in state_dict]
    if missing:
        raise CheckpointError(f"missing keys in {path}: {key_sample(missing)}")


def infer_backbone(state_dict: dict[str, Tensor], path: Path | str) -> str:
    """ResNet depth from the number of blocks in layer1..4 and whether they have conv3."""
    blocks = [0, 0, 0, 0]
    bottleneck = False
    for key in state_dict:
        m = _BLOCK.match(key)
        if m:
            stage, block = int(m.group(1)) - 1, int(m.group(2))
            blocks[stage] = max(blocks[stage], block + 1)
            bottleneck |= m.group(3) is not None
    if not any(blocks):
        raise CheckpointError(f"missing keys in {path}: no ResNet backbone ({BACKBONE_PREFIX}layer1..4)")
    name = _RESNETS.get((tuple(blocks), bottleneck))
    if name is None:
        kind = "bottleneck" if bottleneck else "basic"
        raise CheckpointError(f"unsupported backbone in {path}: {kind} ResNet with {tuple(blocks)} blocks "
                              f"per stage is not ResNet-18/34/50/101")
    return name


def _count_layers(state_dict: dict[str, Tensor], which: str) -> int:
    indices = {int(m.group(2)) for m in map(_LAYER.match, state_dict) if m and m.group(1) == which}
    return max(indices) + 1 if indices else 0


def infer_config_fields(state_dict: dict[str, Tensor], path: Path | str) -> dict[str, Any]:
    """ModelConfig fields that the tensor shapes determine (not nheads, dilation or dropout)."""
    refuse_unsupported(state_dict, path)
    _require(state_dict, ["query_embed.weight", "class_embed.weight", "input_proj.weight",
                          "transformer.decoder.layers.0.linear1.weight"], path)
    num_queries, hidden_dim = state_dict["query_embed.weight"].shape  # [Q, C]
    return {
        "backbone": infer_backbone(state_dict, path),
        "hidden_dim": int(hidden_dim),
        "num_queries": int(num_queries),
        "enc_layers": _count_layers(state_dict, "encoder"),
        "dec_layers": _count_layers(state_dict, "decoder"),
        "dim_feedforward": int(state_dict["transformer.decoder.layers.0.linear1.weight"].shape[0]),
        "num_classes": int(state_dict["class_embed.weight"].shape[0]) - 1,  # minus "no object"
    }


def _shape(state_dict: dict[str, Tensor], key: str, dim: int) -> int | None:
    tensor = state_dict.get(key)
    return int(tensor.shape[dim]) if isinstance(tensor, Tensor) and tensor.dim() == 2 else None


def check_config_fits(config, state_dict: dict[str, Tensor], path: Path | str) -> None:
    """A stored config must agree with the sizes its weights show, before anything is built from it
    (a config asking for a million layers or a width of 10**30 is refused, not built)."""
    shown = {
        "enc_layers": _count_layers(state_dict, "encoder"),
        "dec_layers": _count_layers(state_dict, "decoder"),
        "num_queries": _shape(state_dict, "query_embed.weight", 0),
        "hidden_dim": _shape(state_dict, "query_embed.weight", 1),
        "num_classes": (lambda k: None if k is None else k - 1)(_shape(state_dict, "class_embed.weight", 0)),
        "dim_feedforward": _shape(state_dict, "transformer.decoder.layers.0.linear1.weight", 0),
    }
    for name, found in shown.items():
        if found is not None and getattr(config, name) != found:
            raise CheckpointError(f"the model configuration in {path} does not fit its weights: {name} is "
                                  f"{getattr(config, name)} in the config, {found} in the weights")


def make_config(fields: dict[str, Any], path: Path | str):
    """ModelConfig(**fields), its ValueError turned into a CheckpointError naming the file."""
    from ..model.config import ModelConfig

    try:
        return ModelConfig(**fields)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"cannot use the model configuration of {path}: {e}") from None


def drop_batch_counters(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Without BatchNorm's `num_batches_tracked` (frozen batch norm has none)."""
    return {k: v for k, v in state_dict.items() if not k.endswith(".num_batches_tracked")}


def check_state_dict(state_dict: dict[str, Tensor], expected: dict[str, Tensor], where: Path | str,
                     have: str = "in the file", need: str = "the model needs") -> None:
    """One-line errors for what load_state_dict(strict=True) would reject, naming keys and shapes."""
    missing = [k for k in expected if k not in state_dict]
    if missing:
        raise CheckpointError(f"missing keys in {where}: {key_sample(missing)}")
    unexpected = [k for k in state_dict if k not in expected]
    if unexpected:
        raise unknown_layout(where, unexpected)
    for key, tensor in state_dict.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(f"wrong shape for {key} in {where}: {list(tensor.shape)} {have}, "
                                  f"{need} {list(expected[key].shape)}")
