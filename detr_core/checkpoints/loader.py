"""`load_checkpoint`: any DETR checkpoint -> a built model with its weights, config and class names.

Sources:
  "detr-r50", "detr-r101", "detr-r50-dc5", "detr-r101-dc5"  official weights via torch.hub's cache
  a folder with config.json (or a weights file inside one)   Hugging Face DetrForObjectDetection
  a .pth/.pt/.bin file                                        official (plain, training, panoptic),
                                                              bare state dict, or the project format
  a .safetensors file without config.json                     a bare official-layout state dict
Every file is read with weights_only=True (see safe_load). Weights are mapped to the official layout,
the model is built from the config and loaded with strict=True, then put in eval mode.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..model.config import ModelConfig
from ..model.detr import DETR, build
from ..errors import CheckpointError
from . import hub
from .hf_folder import is_hf_folder, parse_hf_folder
from .layout import Parsed, check_state_dict, drop_batch_counters, is_huggingface
from .official import describe_non_checkpoint, is_state_dict, parse_official
from .project import is_project, parse_project
from .safe_load import _first_line, check_readable, safetensors_load, torch_load

_HF_WEIGHT_NAMES = ("model.safetensors", "pytorch_model.bin", "config.json", "model.safetensors.index.json")


@dataclass
class LoadedCheckpoint:
    model: DETR  # built from `config`, weights loaded with strict=True, in eval mode
    config: ModelConfig
    class_names: list[str]  # len == config.num_classes; "N/A" for unused ids
    kind: str  # "official" | "official-training" | "official-panoptic" | "huggingface-timm"
    #            | "huggingface-resnet" | "project"
    description: str  # one line: what was loaded, from where
    source: str  # the path or official name as given
    metadata: dict = field(default_factory=dict)  # project: its metadata; official training:
    #            {"epoch", "args"}; Hugging Face: the config.json dict


def _device(map_location: Any) -> str:
    if isinstance(map_location, (str, torch.device)):
        return str(map_location)
    return "cpu"


def _parse_file(path: Path, map_location: Any, dilation: bool | None) -> Parsed:
    if path.suffix == ".safetensors":
        obj: Any = safetensors_load(path, _device(map_location))
    else:
        obj = torch_load(path, map_location)
    if is_project(obj):
        return parse_project(obj, path)
    parsed = parse_official(obj, path, dilation=dilation)
    if parsed is not None:
        return parsed
    state = obj.get("model", obj) if isinstance(obj, dict) else obj
    if is_state_dict(state) and is_huggingface(state):
        raise CheckpointError(f"{path} holds Hugging Face DETR weights without their config.json; "
                              f"load the folder that has both")
    raise describe_non_checkpoint(obj, path)


def _parse(source: str | os.PathLike, map_location: Any, dilation: bool | None) -> tuple[Parsed, str]:
    """(parsed checkpoint, where it was read from, for the description)."""
    text = os.fspath(source)
    path = Path(text).expanduser()
    if isinstance(source, str) and source in hub.OFFICIAL_CHECKPOINTS and not path.exists():
        file, preset_config = hub.fetch(source)
        default = preset_config.dilation if dilation is None else dilation
        return _parse_file(file, map_location, default), f"{source}: {file}"
    if path.is_dir():
        if not is_hf_folder(path):
            raise CheckpointError(f"not a checkpoint: {path} is a folder without config.json")
        return parse_hf_folder(path, _device(map_location)), text
    if path.name in _HF_WEIGHT_NAMES and is_hf_folder(path.parent):
        return parse_hf_folder(path.parent, _device(map_location)), text
    if not path.exists() and os.sep not in text and not path.suffix:
        raise CheckpointError(f"checkpoint not found: {text} is neither a file nor an official name "
                              f"({', '.join(hub.OFFICIAL_CHECKPOINTS)})")
    check_readable(path)
    return _parse_file(path, map_location, dilation), text


def _build_with(config: ModelConfig, state_dict: dict[str, Tensor], where: str) -> DETR:
    """The model of `config` holding exactly `state_dict` (strict), in eval mode. It is built on the
    meta device and the loaded tensors are assigned, so no time goes into random initialisation."""
    try:
        with torch.device("meta"):
            model = build(config)
    except (RuntimeError, TypeError, OverflowError, MemoryError) as e:  # sizes no model can have
        raise CheckpointError(f"cannot build the model configured in {where}: {_first_line(e)}") from None
    check_state_dict(state_dict, model.state_dict(), where)
    expected = model.state_dict()
    state_dict = {k: v.to(expected[k].dtype) for k, v in state_dict.items()}  # e.g. fp16 files
    model.load_state_dict(state_dict, strict=True, assign=True)  # keeps each requires_grad
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    assert not left, f"tensors not in the state dict: {left[:3]}"
    return model.eval()


def _arch(config: ModelConfig) -> str:
    name = "R" + config.backbone.removeprefix("resnet")
    return name + "-DC5" if config.dilation else name


def _classes(class_names: list[str]) -> str:
    from ..coco.names import COCO_CLASS_NAMES

    if tuple(class_names) == COCO_CLASS_NAMES:
        return f"{len(class_names)} COCO classes"
    real = [n for n in class_names if n != "N/A"]
    shown = ", ".join(real[:3]) + (", ..." if len(real) > 3 else "")
    return f"{len(class_names)} classes ({shown})" if real else f"{len(class_names)} classes"


def load_checkpoint(source: str | os.PathLike, *, map_location: Any = "cpu", dilation: bool | None = None,
                    min_size: int | None = None, max_size: int | None = None) -> LoadedCheckpoint:
    """Load any supported checkpoint (see the module docstring) into a new DETR in eval mode.

    dilation: DC5 or not, for official files that do not record it (no `args`); otherwise ignored.
    min_size / max_size: override the config's evaluation resize.
    Raises CheckpointError with one line naming the file and the problem.
    """
    parsed, where = _parse(source, map_location, dilation)
    config = parsed.config
    if min_size is not None or max_size is not None:
        try:
            config = config.replace(min_size=min_size or config.min_size, max_size=max_size or config.max_size)
        except ValueError as e:
            raise CheckpointError(f"cannot use min_size/max_size for {where}: {e}") from None
    model = _build_with(config, drop_batch_counters(parsed.state_dict), where)
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)
    description = (f"{parsed.what}: {_arch(config)}, {_classes(parsed.class_names)}, "
                   f"{config.num_queries} queries ({where})" + (f"; {parsed.note}" if parsed.note else ""))
    return LoadedCheckpoint(model=model, config=config, class_names=parsed.class_names, kind=parsed.kind,
                            description=description, source=os.fspath(source), metadata=parsed.metadata)
