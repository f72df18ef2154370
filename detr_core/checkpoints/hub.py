"""The official DETR weights by name ("detr-r50", ...), through torch.hub's checkpoint cache.

A name resolves to `torch.hub.get_dir()/checkpoints/<filename>` (TORCH_HOME/hub/checkpoints). The
part of the file name after the last '-' is the start of the file's SHA-256, as torch.hub checks
it: a download is verified by `torch.hub.download_url_to_file(..., hash_prefix=...)`, and a file
already in the cache is hashed too (once per process while it is unchanged). Offline, the error says
which file to put where.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
from pathlib import Path

from ..model.config import ModelConfig, preset
from ..errors import CheckpointError

_BASE_URL = "https://dl.fbaipublicfiles.com/detr/"
# name -> (url, file name in the cache, the configuration it holds)
OFFICIAL_CHECKPOINTS: dict[str, tuple[str, str, ModelConfig]] = {
    name: (_BASE_URL + filename, filename, preset(name))
    for name, filename in (
        ("detr-r50", "detr-r50-e632da11.pth"),
        ("detr-r101", "detr-r101-2c7b67e5.pth"),
        ("detr-r50-dc5", "detr-r50-dc5-f0fb7ef5.pth"),
        ("detr-r101-dc5", "detr-r101-dc5-a2e86def.pth"),
    )
}
_verified: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) whose hash matched


def hash_prefix(filename: str) -> str:
    """The SHA-256 prefix a torch.hub file name carries ("detr-r50-e632da11.pth" -> "e632da11")."""
    import torch.hub  # here, not at import: the window lists these names before torch is loaded

    match = torch.hub.HASH_REGEX.search(filename)
    if not match or not match.group(1):
        raise CheckpointError(f"file name {filename} carries no SHA-256 prefix")
    return match.group(1)


def cache_path(filename: str) -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, prefix: str, url: str) -> None:
    """Raise CheckpointError unless the SHA-256 of `path` starts with `prefix`."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return
    digest = _sha256(path)
    if not digest.startswith(prefix):
        raise CheckpointError(f"{path} is damaged or not the official file: its SHA-256 starts with "
                              f"{digest[:len(prefix)]}, expected {prefix}; delete it and download {url} again")
    _verified.add(key)


def fetch(name: str) -> tuple[Path, ModelConfig]:
    """The local file of an official checkpoint name (downloading it once), and its configuration."""
    url, filename, config = OFFICIAL_CHECKPOINTS[name]
    prefix = hash_prefix(filename)
    path = cache_path(filename)
    if not path.is_file():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            import torch.hub

            torch.hub.download_url_to_file(url, os.fspath(path), hash_prefix=prefix, progress=False)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
            raise CheckpointError(f"{name} is not downloaded and cannot be fetched ({reason}): "
                                  f"download {url} and put it at {path}") from None
        except RuntimeError as e:  # download_url_to_file: 'invalid hash value (...)'
            raise CheckpointError(f"the download of {url} failed its SHA-256 check ({e}); nothing was "
                                  f"saved to {path}") from None
    verify(path, prefix, url)
    return path, config
