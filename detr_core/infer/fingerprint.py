"""The SHA-256 of a checkpoint, whatever form it has: what an exported .onnx file and pre-labelling
shards record, so results of different weights are never mixed."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import CheckpointError

_cache: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> digest


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of one file, remembered while its size and modification time stay the same."""
    path = Path(path)
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _cache:
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            _cache[key] = digest.hexdigest()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read to hash it ({e.strerror or e})") from None
    return _cache[key]


def checkpoint_sha256(source: str | os.PathLike) -> str:
    """SHA-256 of a checkpoint: a file's bytes; for a Hugging Face folder, of its files' names and
    digests; for an official name ("detr-r50"), of the cached official file."""
    path = Path(os.fspath(source)).expanduser()
    if not path.exists() and isinstance(source, str):
        from ..checkpoints import hub  # torch; only for official names

        if source in hub.OFFICIAL_CHECKPOINTS:
            path, _ = hub.fetch(source)
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")):
            digest.update(f"{child.name}\0{file_sha256(child)}\n".encode())
        return digest.hexdigest()
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {source}")
    return file_sha256(path)
