"""facebookresearch/detr checkpoints: `{'model': state_dict, ...}` or a bare state dict.

Variants:
  - inference files (the published detr-r50-e632da11.pth, ...): {'model': state_dict}
  - training checkpoints: also 'optimizer', 'lr_scheduler', 'epoch' and 'args' (argparse.Namespace)
  - panoptic (DETRsegm): detection keys prefixed 'detr.', plus the mask head ('bbox_attention.*',
    'mask_head.*'), which is dropped: only detection is loaded.

nheads and dilation cannot be read off tensor shapes: they come from `args` when the file has it,
else from the caller's `dilation`, else from "dc5" in the file name; nheads defaults to 8.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from torch import Tensor

from ..coco.names import default_class_names
from ..errors import CheckpointError
from .layout import (Parsed, infer_config_fields, is_official, key_sample, make_config, refuse_unsupported,
                     unknown_layout)

PANOPTIC_PREFIX = "detr."
MASK_HEAD_PREFIXES = ("bbox_attention.", "mask_head.")
TRAINING_KEYS = ("optimizer", "lr_scheduler", "epoch", "args")


def _plain(value: Any) -> Any:
    """argparse.Namespace (possibly nested in containers) -> plain dicts and lists."""
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())


def _split_panoptic(state_dict: dict[str, Tensor], path: Path) -> tuple[dict[str, Tensor], list[str]]:
    """(detection state dict without the 'detr.' prefix, dropped mask-head keys)."""
    detection, dropped, other = {}, [], []
    for key, value in state_dict.items():
        name = key[len(PANOPTIC_PREFIX):] if key.startswith(PANOPTIC_PREFIX) else key
        if name.startswith(MASK_HEAD_PREFIXES):
            dropped.append(key)
        elif key.startswith(PANOPTIC_PREFIX):
            detection[name] = value
        else:
            other.append(key)
    if other:
        raise unknown_layout(path, other)
    return detection, dropped


def _number(args: dict, key: str, kind: type, path: Path) -> Any:
    try:
        return kind(args[key])
    except (TypeError, ValueError):
        raise CheckpointError(f"{path}: args.{key} is {args[key]!r}, expected a number") from None


def _nheads_dilation(args: dict | None, dilation: bool | None, path: Path) -> tuple[int, bool]:
    nheads = 8
    if args is not None and args.get("nheads") is not None:
        nheads = _number(args, "nheads", int, path)
    if args is not None and args.get("dilation") is not None:
        return nheads, bool(args["dilation"])
    if dilation is not None:
        return nheads, dilation
    return nheads, "dc5" in path.name.lower()


def _check_args(args: dict, path: Path) -> None:
    if args.get("position_embedding") not in (None, "sine", "v2"):
        raise CheckpointError(f"{path} was trained with position_embedding={args['position_embedding']!r}; "
                              f"only the sine position encoding is supported")
    if args.get("pre_norm"):
        raise CheckpointError(f"{path} is a pre-norm DETR (args.pre_norm); only post-norm is supported")


def parse_official(obj: Any, path: Path, *, dilation: bool | None = None) -> Parsed | None:
    """An official checkpoint (or bare official state dict) in the official layout, or None when
    `obj` is not one. Raises CheckpointError for an official file we cannot use."""
    if isinstance(obj, dict) and "model" in obj and is_state_dict(obj["model"]):
        state_dict, extra = obj["model"], obj
    elif is_state_dict(obj):
        state_dict, extra = obj, {}
    else:
        return None
    keys = list(state_dict)
    panoptic = any(k.startswith(PANOPTIC_PREFIX) for k in keys)
    if not panoptic and not is_official(keys):
        return None
    dropped: list[str] = []
    if panoptic:
        state_dict, dropped = _split_panoptic(state_dict, path)
    refuse_unsupported(state_dict, path)
    unknown = [k for k in state_dict if not is_official([k])]
    if unknown:
        raise unknown_layout(path, unknown)

    args = _plain(extra["args"]) if extra.get("args") is not None else None
    if args is not None and not isinstance(args, dict):
        raise CheckpointError(f"{path}: 'args' is a {type(args).__name__}, expected an argparse.Namespace")
    if args is not None:
        _check_args(args, path)
    training = any(k in extra for k in ("optimizer", "lr_scheduler", "epoch"))
    metadata: dict[str, Any] = {}
    if "epoch" in extra:
        metadata["epoch"] = _plain(extra["epoch"])
    if args is not None:
        metadata["args"] = args

    fields = infer_config_fields(state_dict, path)
    fields["nheads"], fields["dilation"] = _nheads_dilation(args, dilation, path)
    if args is not None and args.get("dropout") is not None:
        fields["dropout"] = _number(args, "dropout", float, path)
    config = make_config(fields, path)

    if panoptic:
        kind = "official-panoptic"
        what = (f"official DETR panoptic checkpoint, detection part only "
                f"({len(dropped)} mask-head tensors not loaded)")
    elif training:
        kind = "official-training"
        epoch = f" (epoch {metadata['epoch']})" if "epoch" in metadata else ""
        what = f"official DETR training checkpoint{epoch}"
    else:
        kind, what = "official", "official DETR checkpoint"
    heads_recorded = args is not None and args.get("nheads") is not None
    note = "" if heads_recorded else f"{config.nheads} attention heads assumed (not recorded in the file)"
    return Parsed(state_dict=state_dict, config=config, class_names=default_class_names(config.num_classes),
                  kind=kind, what=what, metadata=metadata, note=note)


def describe_non_checkpoint(obj: Any, path: Path) -> CheckpointError:
    """The error for a loadable file that holds no DETR weights we recognise."""
    if isinstance(obj, dict):
        if is_state_dict(obj):
            return unknown_layout(path, obj)
        if isinstance(obj.get("model"), dict) and obj["model"]:
            return unknown_layout(path, [str(k) for k in obj["model"]])
        return CheckpointError(f"no model weights in {path}: a dict with keys {key_sample(map(str, obj))}")
    return CheckpointError(f"no model weights in {path}: it holds a {type(obj).__name__}, not a state dict")
