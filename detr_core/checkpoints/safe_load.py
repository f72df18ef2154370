"""Reading checkpoint files without ever executing code from them.

`torch.load` runs with `weights_only=True` only: tensors, containers and plain values, plus
`argparse.Namespace` (official training checkpoints keep their command line in `args`; unpickling a
Namespace only sets attributes, it calls nothing). Anything else a pickle asks for (a custom class,
`os.system`, ...) is refused, never run. Every failure becomes a one-line CheckpointError naming the
file and the problem.
"""
from __future__ import annotations

import argparse
import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import CheckpointError

SAFE_GLOBALS = [argparse.Namespace]
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save since PyTorch 1.6
_PICKLE_MAGIC = b"\x80"  # legacy torch.save (pickle protocol 2+), e.g. the 2020 official files
_KNOWN_MAGIC = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def check_readable(path: Path) -> None:
    """Raise CheckpointError unless `path` is an existing, non-empty file."""
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"not a checkpoint file: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint file is empty: {path}")


def _head(path: Path, n: int = 64) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from None


def _what_is(head: bytes) -> str:
    """A short guess at what a file that is not a checkpoint is, from its first bytes."""
    for magic, what in _KNOWN_MAGIC:
        if head.startswith(magic):
            return what
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "unrecognised binary data"
    if text.isprintable() or all(c.isprintable() or c.isspace() for c in text):
        return "a text file"
    return "unrecognised binary data"


def torch_load(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """The object a torch.save file holds, unpickled with weights_only=True (Namespace allowed)."""
    path = Path(path)
    check_readable(path)
    head = _head(path)
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC)):
        raise CheckpointError(f"not a PyTorch checkpoint: {path} is {_what_is(head)}")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")  # we report instead
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = _GLOBAL.search(str(e))
        if found:
            raise CheckpointError(
                f"refused to load {path}: unpickling it would run code ({found.group(1)}); only "
                f"tensors and plain data are accepted") from None
        raise CheckpointError(f"not a readable PyTorch checkpoint: {path} ({_unpickler_reason(e)})") from None
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or _first_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - unpickling foreign bytes can fail with any error type
        if "zip archive" in str(e) or isinstance(e, EOFError):
            raise CheckpointError(f"checkpoint is truncated or corrupt: {path}") from None
        raise CheckpointError(f"not a readable PyTorch checkpoint: {path} ({_first_line(e)})") from None


def safetensors_load(path: str | os.PathLike, device: str = "cpu") -> dict[str, Tensor]:
    """All tensors of a .safetensors file (the format cannot hold code), in memory of their own:
    load_file maps the file, and a model must not change (or crash) when the file is rewritten."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    check_readable(path)
    try:
        return {k: v.clone() for k, v in load_file(path, device=device).items()}
    except (SafetensorError, ValueError, OSError) as e:
        raise CheckpointError(f"not a readable safetensors file: {path} ({_first_line(e)})") from None


_UNPICKLER_ERROR = re.compile(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", re.S)


def _unpickler_reason(e: BaseException) -> str:
    """What torch's weights-only unpickler found wrong, without its advice to load the file with
    weights_only=False (which would run any code in it)."""
    found = _UNPICKLER_ERROR.search(str(e))
    return found.group(1).splitlines()[0][:200] if found else _first_line(e)


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:200]
