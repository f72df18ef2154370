"""Atomic writes keep ordinary file permissions (not the temporary file's private 0600)."""
from __future__ import annotations

import os
import stat

import pytest

from detr_core.atomic import atomic_write, atomic_write_json

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def test_a_new_file_gets_the_umask_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640


def test_a_replaced_file_keeps_its_permissions_and_a_failed_write_leaves_it(tmp_path):
    path = tmp_path / "b.bin"
    path.write_bytes(b"old")
    path.chmod(0o604)
    atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o604

    def fail(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["b.bin"]


def test_a_coco_save_follows_the_same_permission_rules(tmp_path):
    """One writer: a COCO save (with its .bak) gets the umask's permissions for a new file and
    keeps a replaced file's, as every other atomic write does."""
    from detr_core.coco.io import write_atomic

    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.json", b"{}", expected=None)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640
    path = tmp_path / "kept.json"
    path.write_bytes(b"{}")
    path.chmod(0o604)
    write_atomic(path, b'{"images": []}', expected=None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o604 and path.read_bytes() == b'{"images": []}'
    assert path.with_name("kept.json.bak").read_bytes() == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json", "kept.json.bak", "new.json"]
