"""The project's own checkpoint format: one file that rebuilds the model.

`torch.save` of a plain dict (only plain values and tensors, so it loads with weights_only=True):
  {"format": "detr-workbench", "version": 1,
   "model_config": ModelConfig.to_dict(),
   "class_names": [str] * num_classes,
   "model": state_dict (official key names, CPU tensors),
   "metadata": {...},          # e.g. dataset, category_ids, metrics
   "state": {...}}             # optional, for resuming: optimizer, scheduler, epoch, step, rng

Saving is atomic: a temporary file in the same folder, flushed and fsynced, then renamed over the
target; on any failure the previous file is untouched and the temporary file is removed.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from ..atomic import atomic_write
from ..model.config import ModelConfig
from ..model.detr import build
from ..errors import CheckpointError
from .layout import Parsed, check_config_fits, check_state_dict
from .official import is_state_dict
from .safe_load import torch_load

FORMAT = "detr-workbench"
VERSION = 1
# Exact types: subclasses such as numpy.float64 (a float) would not load with weights_only=True.
_SCALARS = (type(None), bool, int, float, str, bytes, torch.dtype, torch.device)


def is_project(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def _check_plain(value: Any, where: str, path: Path) -> None:
    """Raise CheckpointError for anything weights_only=True could not load back."""
    if type(value) in _SCALARS or isinstance(value, Tensor):
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise CheckpointError(f"cannot save {path}: {where} has a {type(key).__name__} key")
            _check_plain(item, f"{where}[{key!r}]", path)
    elif type(value) in (list, tuple, torch.Size):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]", path)
    else:
        raise CheckpointError(f"cannot save {path}: {where} is a {type(value).__module__}."
                              f"{type(value).__qualname__}; only plain values and tensors are stored")


def _reason(error: BaseException) -> str:
    """The OSError behind a failed save (torch's zip writer wraps it in a RuntimeError), in words."""
    seen = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return (str(error).strip() or type(error).__name__).splitlines()[0]


def save_checkpoint(path: str | os.PathLike, model: nn.Module, config: ModelConfig,
                    class_names: Sequence[str], *, metadata: dict | None = None,
                    state: dict | None = None) -> None:
    """Write the project format to `path` atomically. Raises CheckpointError naming the path when
    the inputs cannot be stored or the write fails (the previous file is then untouched)."""
    path = Path(path)
    class_names = [str(name) for name in class_names]
    if len(class_names) != config.num_classes:
        raise CheckpointError(f"cannot save {path}: {len(class_names)} class names for "
                              f"{config.num_classes} classes")
    payload: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "model_config": config.to_dict(),
        "class_names": class_names,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": dict(metadata or {}),
    }
    if state is not None:
        payload["state"] = state
    with torch.device("meta"):  # shapes only, no memory, no initialisation
        expected = build(config).state_dict()
    check_state_dict(payload["model"], expected, f"the model to save as {path}", have="in the model",
                     need="its config needs")
    _check_plain(payload["metadata"], "metadata", path)
    _check_plain(state, "state", path)
    if not path.parent.is_dir():
        raise CheckpointError(f"cannot save {path}: folder {path.parent} does not exist")
    try:
        atomic_write(path, lambda f: torch.save(payload, f))
    except (OSError, RuntimeError) as e:  # torch's zip writer reports I/O errors as RuntimeError
        raise CheckpointError(f"cannot save {path}: {_reason(e)}") from e


def read_checkpoint_state(path: str | os.PathLike) -> dict:
    """The raw project-format dict (model, model_config, class_names, metadata and, when saved,
    "state" for resuming), loaded with weights_only=True. Other formats raise CheckpointError."""
    path = Path(path)
    obj = torch_load(path)
    if not is_project(obj):
        raise CheckpointError(f"not a DETR Workbench checkpoint (no training state to resume): {path}")
    parsed = parse_project(obj, path)  # config, class names and weights checked before use
    with torch.device("meta"):
        expected = build(parsed.config).state_dict()
    check_state_dict(parsed.state_dict, expected, path)
    if not isinstance(obj.get("state", {}), dict):
        raise CheckpointError(f"malformed DETR Workbench checkpoint {path}: 'state' is not a dict")
    return obj


def _check_version(obj: dict, path: Path) -> None:
    if obj.get("version") != VERSION:
        raise CheckpointError(f"{path} is DETR Workbench checkpoint version {obj.get('version')!r}; "
                              f"this program reads version {VERSION}")


def parse_project(obj: dict, path: Path) -> Parsed:
    _check_version(obj, path)
    for key, kind in (("model_config", dict), ("class_names", list), ("model", dict), ("metadata", dict)):
        if not isinstance(obj.get(key, {} if key == "metadata" else None), kind):
            raise CheckpointError(f"malformed DETR Workbench checkpoint {path}: '{key}' is missing or "
                                  f"not a {kind.__name__}")
    try:
        config = ModelConfig.from_dict(obj["model_config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"malformed DETR Workbench checkpoint {path}: model_config: {e}") from None
    names = obj["class_names"]
    if not is_state_dict(obj["model"]):
        raise CheckpointError(f"malformed DETR Workbench checkpoint {path}: 'model' is not a state dict")
    check_config_fits(config, obj["model"], path)
    if len(names) != config.num_classes or not all(isinstance(n, str) for n in names):
        raise CheckpointError(f"malformed DETR Workbench checkpoint {path}: {len(names)} class names "
                              f"for {config.num_classes} classes")
    return Parsed(state_dict=obj["model"], config=config, class_names=list(names), kind="project",
                  what="DETR Workbench checkpoint", metadata=dict(obj.get("metadata", {})))
