"""Atomic file writes, the project's one writer: a temporary file in the same folder, flushed and
fsynced, then renamed over the target, then the folder fsynced. A failure leaves the previous file
untouched and no temporary file behind. The file gets the permissions of the file it replaces, or
those a plain open() would give (0o666 less the umask), never mkstemp's private 0o600.

    atomic_write(path, lambda f: f.write(payload))
    atomic_write(path, write, before_replace=make_backup)   # e.g. COCO saves keep a .bak
    atomic_write_json(path, data, indent=2)
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, IO


def _mode_for(path: Path) -> int:
    """The permissions the file gets: those of the file it replaces, else what a plain open()
    would give (0o666 less the umask), not mkstemp's private 0o600."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None], *,
                 before_replace: Callable[[], None] | None = None) -> None:
    """Call `write(file)` on a temporary binary file, then move it over `path` in one step.
    `before_replace()` runs once the new content is safely on disk, just before the rename (a
    backup of the old file goes there). Raises OSError (from the write, the fsync, the hook or
    the rename) with the target left as it was."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX
            os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def atomic_write_json(path: str | os.PathLike, data: Any, *, indent: int | None = None) -> None:
    payload = json.dumps(data, indent=indent, ensure_ascii=False).encode("utf-8")
    atomic_write(path, lambda f: f.write(payload))
