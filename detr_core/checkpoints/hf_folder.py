"""Hugging Face `DetrForObjectDetection` folders, as `save_pretrained` writes them:

  config.json            d_model, encoder/decoder_layers, *_attention_heads, *_ffn_dim, num_queries,
                         dilation, id2label, backbone (timm name, or backbone_config for either a timm
                         or a transformers ResNet)
  model.safetensors      weights (or model.safetensors.index.json + shards, or pytorch_model.bin,
                         read with weights_only=True)

The structure is read off the tensors as for official files and must agree with config.json; heads
and class names come from config.json. HF's class head has num_labels + 1 rows, the last one "no
object", the same convention as ours. Things our model cannot compute are refused.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..model.config import BACKBONES
from ..errors import CheckpointError
from . import hf_keys
from .layout import Parsed, infer_config_fields, make_config
from .official import is_state_dict
from .safe_load import safetensors_load, torch_load

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_HF_DEFAULTS: dict[str, Any] = {  # DetrConfig's defaults, for keys a config.json leaves out
    "d_model": 256, "encoder_layers": 6, "decoder_layers": 6, "encoder_attention_heads": 8,
    "decoder_attention_heads": 8, "encoder_ffn_dim": 2048, "decoder_ffn_dim": 2048,
    "num_queries": 100, "dropout": 0.1, "dilation": False, "activation_function": "relu",
    "position_embedding_type": "sine",
}
# transformers' decoder, with auxiliary_loss on, feeds each layer the *normalised* output of the
# previous one; the official DETR (and ours) normalises only the copies that go to the heads.
AUX_LOSS_NOTE = ("note: config.json sets auxiliary_loss, with which transformers normalises between "
                 "decoder layers, so results differ from transformers' (this runs the official DETR)")
_HF_RESNETS = {((2, 2, 2, 2), "basic"): "resnet18", ((3, 4, 6, 3), "basic"): "resnet34",
               ((3, 4, 6, 3), "bottleneck"): "resnet50", ((3, 4, 23, 3), "bottleneck"): "resnet101"}
_COMPARED = {"backbone": "backbone", "hidden_dim": "d_model", "enc_layers": "encoder_layers",
             "dec_layers": "decoder_layers", "dim_feedforward": "encoder_ffn_dim",
             "num_queries": "num_queries"}


def is_hf_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(f"not a Hugging Face model folder (no config.json): {folder}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"malformed {path}: {e.msg} at line {e.lineno} column {e.colno}") from None
    except (UnicodeDecodeError, OSError) as e:
        raise CheckpointError(f"cannot read {path}: {e}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"malformed {path}: expected a JSON object, found {type(config).__name__}")
    if config.get("model_type") != "detr":
        raise CheckpointError(f"{path} describes a {config.get('model_type')!r} model, not DETR "
                              f"(model_type 'detr')")
    return config


def _value(config: dict, key: str, kind: type, path: Path) -> Any:
    value = config.get(key, _HF_DEFAULTS[key])
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok:
        raise CheckpointError(f"malformed {path}: {key} should be {kind.__name__}, found {value!r}")
    return value


def _timm_name(name: Any, path: Path) -> str:
    base = str(name).removeprefix("timm/").split(".")[0]  # "timm/resnet50.a1_in1k" -> "resnet50"
    if base not in BACKBONES:
        raise CheckpointError(f"{path}: backbone {name!r} is not supported (only {', '.join(BACKBONES)})")
    return base


def _declared_backbone(config: dict, path: Path) -> str | None:
    """The ResNet config.json names, or None when it does not say (the weights will)."""
    sub = config.get("backbone_config")
    if isinstance(sub, dict) and sub.get("model_type") == "resnet":
        for flag in ("downsample_in_bottleneck", "downsample_in_first_stage"):
            if sub.get(flag):
                raise CheckpointError(f"{path}: backbone_config.{flag} is not supported (torchvision ResNet)")
        if sub.get("hidden_act", "relu") != "relu":
            raise CheckpointError(f"{path}: backbone activation {sub['hidden_act']!r} is not supported (relu)")
        key = (tuple(sub.get("depths", [3, 4, 6, 3])), sub.get("layer_type", "bottleneck"))
        if key not in _HF_RESNETS:
            raise CheckpointError(f"{path}: ResNet with depths {list(key[0])} ({key[1]}) is not "
                                  f"ResNet-18/34/50/101")
        return _HF_RESNETS[key]
    if isinstance(sub, dict) and sub.get("model_type") == "timm_backbone":
        return _timm_name(sub.get("backbone"), path)
    if isinstance(sub, dict) and sub:
        raise CheckpointError(f"{path}: backbone {sub.get('model_type')!r} is not supported "
                              f"(only ResNet-18/34/50/101)")
    if config.get("use_timm_backbone", True):
        return _timm_name(config.get("backbone") or "resnet50", path)
    return None if config.get("backbone") else "resnet50"  # transformers' default ResNetConfig


def _refuse_unsupported(config: dict, path: Path) -> None:
    if _value(config, "position_embedding_type", str, path) != "sine":
        raise CheckpointError(f"{path}: position_embedding_type {config['position_embedding_type']!r} "
                              f"is not supported (sine only)")
    if _value(config, "activation_function", str, path) != "relu":
        raise CheckpointError(f"{path}: activation_function {config['activation_function']!r} is not "
                              f"supported (relu only)")
    if config.get("normalize_before") or config.get("pre_norm"):
        raise CheckpointError(f"{path}: pre-norm transformers are not supported (post-norm only)")
    for a, b in (("encoder_attention_heads", "decoder_attention_heads"), ("encoder_ffn_dim", "decoder_ffn_dim")):
        value_a, value_b = _value(config, a, int, path), _value(config, b, int, path)
        if value_a != value_b:
            raise CheckpointError(f"{path}: {a} {value_a} differs from {b} {value_b}; our model "
                                  f"uses one value for both")


def _class_names(config: dict, num_classes: int, path: Path) -> list[str]:
    id2label = config.get("id2label")
    if id2label is None:
        from ..coco.names import default_class_names

        return default_class_names(num_classes)
    try:
        labels = {int(k): str(v) for k, v in dict(id2label).items()}
    except (TypeError, ValueError):
        raise CheckpointError(f"malformed {path}: id2label must map class ids to names") from None
    if sorted(labels) != list(range(num_classes)):
        raise CheckpointError(f"{path}: id2label has {len(labels)} labels but the class head has "
                              f"{num_classes} classes (+1 no-object)")
    return [labels[i] for i in range(num_classes)]


def read_weights(folder: Path, device: str = "cpu") -> tuple[dict, Path]:
    """(HF state dict, the file it came from)."""
    for name in WEIGHT_FILES:
        path = folder / name
        if not path.is_file():
            continue
        if name.endswith(".safetensors"):
            return safetensors_load(path, device), path
        if name.endswith(".index.json"):
            try:
                shards = sorted(set(json.loads(path.read_text(encoding="utf-8"))["weight_map"].values()))
            except (ValueError, KeyError, TypeError, AttributeError, OSError):
                raise CheckpointError(f"malformed {path}: expected a 'weight_map' of shard files") from None
            state_dict = {}
            for shard in shards:
                state_dict.update(safetensors_load(folder / shard, device))
            return state_dict, path
        state_dict = torch_load(path, map_location=device)
        if not is_state_dict(state_dict):
            raise CheckpointError(f"{path} does not hold a state dict of tensors")
        return state_dict, path
    raise CheckpointError(f"no weights in Hugging Face folder {folder}: expected one of {', '.join(WEIGHT_FILES)}")


def parse_hf_folder(folder: Path, device: str = "cpu") -> Parsed:
    config_path = folder / "config.json"
    config = read_config(folder)
    _refuse_unsupported(config, config_path)
    said = {"backbone": _declared_backbone(config, config_path),
            **{ours: _value(config, hf, int, config_path) for ours, hf in _COMPARED.items() if ours != "backbone"}}
    nheads = _value(config, "encoder_attention_heads", int, config_path)
    dilation = _value(config, "dilation", bool, config_path)
    dropout = _value(config, "dropout", float, config_path)
    hf_state, weights_path = read_weights(folder, device)
    hf_state, dropped = hf_keys.split_segmentation(hf_state)
    state_dict, layout = hf_keys.to_official(hf_state, weights_path)

    fields = infer_config_fields(state_dict, weights_path)
    for ours, hf in _COMPARED.items():
        if said[ours] is not None and said[ours] != fields[ours]:
            raise CheckpointError(f"{config_path} does not match {weights_path.name}: {hf} is {said[ours]} "
                                  f"in config.json but {fields[ours]} in the weights")
    fields.update(nheads=nheads, dilation=dilation, dropout=dropout)
    model_config = make_config(fields, config_path)

    backbone = "timm" if layout == "timm" else "transformers ResNet"
    what = f"Hugging Face DETR ({backbone} backbone)"
    if dropped:
        what += f", detection part only ({len(dropped)} mask-head tensors not loaded)"
    return Parsed(state_dict=state_dict, config=model_config,
                  class_names=_class_names(config, model_config.num_classes, config_path),
                  kind=f"huggingface-{'timm' if layout == 'timm' else 'resnet'}", what=what, metadata=config,
                  note=AUX_LOSS_NOTE if config.get("auxiliary_loss") else "")
