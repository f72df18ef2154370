"""Disk full (ENOSPC) while writing a checkpoint: the previous checkpoint stays intact and loadable,
no temporary file is left, and the message is one line naming the file.

Two ways to fill the disk: a real one (a small tmpfs mounted for the test: needs root and a kernel
that allows it, else those tests are skipped), and an injected one (the write or the fsync of the
atomic writer raises ENOSPC), which runs everywhere. The training child is also run on the full
tmpfs: it fails with one line, the previous checkpoint survives, and `--resume` works once space
is back.
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import torch

from detr_core import atomic
from detr_core.checkpoints import load_checkpoint, read_checkpoint_state, save_checkpoint
from detr_core.errors import CheckpointError

from test_train_cli import FAST, ROOT, _cmd, _env, _events, _sha
from test_train_helpers import shapes_dataset, tiny_config, tiny_model

NAMES = ["circle", "square", "triangle", "star", "cross"]


def _mount_tmpfs(size: str) -> Path | None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="detr-enospc-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True)
    if done.returncode != 0:
        folder.rmdir()
        return None
    return folder


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], check=False)
    shutil.rmtree(folder, ignore_errors=True)


def _disk(size: str):
    folder = _mount_tmpfs(size)
    if folder is None:
        pytest.skip("cannot mount a tmpfs here (needs root); the injected-ENOSPC tests cover this")
    yield folder
    _unmount(folder)


@pytest.fixture
def small_disk():
    """A 96 MiB tmpfs, or skip."""
    yield from _disk("96m")


@pytest.fixture
def run_disk():
    """A 640 MiB tmpfs: checkpoints with optimizer, EMA and query-group state, twice, and model.pth."""
    yield from _disk("640m")


def fill(folder: Path, leave: int) -> Path:
    """Write a filler file until only about `leave` bytes are free on `folder`'s file system."""
    filler = folder / "filler.bin"
    free = shutil.disk_usage(folder).free - leave
    with open(filler, "wb") as f:
        chunk = bytes(1 << 20)
        while free > 0:
            try:
                free -= f.write(chunk[:min(len(chunk), free)])
            except OSError:
                break
    return filler


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def _save(path, seed: int) -> None:
    save_checkpoint(path, tiny_model(seed), tiny_config(), NAMES, metadata={"seed": seed},
                    state={"step": seed})


def _check_refused(path: Path, before: str, info) -> None:
    message = str(info.value)
    assert message == f"cannot save {path}: No space left on device", message
    assert _sha(path) == before, "the previous checkpoint was changed"
    assert load_checkpoint(path).metadata["seed"] == 1
    assert read_checkpoint_state(path)["state"]["step"] == 1
    assert _leftovers(path.parent) == []


def test_a_real_full_disk_keeps_the_previous_checkpoint(small_disk):
    path = small_disk / "checkpoint.pth"
    _save(path, 1)
    before = _sha(path)
    fill(small_disk, path.stat().st_size // 2)  # room for half a checkpoint
    with pytest.raises(CheckpointError) as info:
        _save(path, 2)
    _check_refused(path, before, info)


class _FullAfter:
    """A file whose writes fail with ENOSPC once `limit` bytes have gone through."""

    def __init__(self, f, limit: int):
        self.f, self.left = f, limit

    def write(self, data) -> int:
        if len(data) > self.left:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.left -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.mark.parametrize("where", ["write", "fsync", "rename"])
def test_an_injected_enospc_keeps_the_previous_checkpoint(tmp_path, monkeypatch, where):
    path = tmp_path / "checkpoint.pth"
    _save(path, 1)
    before = _sha(path)
    if where == "write":  # part of the file goes through, then the disk is full
        real = os.fdopen
        monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: _FullAfter(real(fd, mode), 1 << 20))
    else:  # delayed allocation: the data is only found not to fit at fsync (or at the rename)
        def full(*args):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(atomic.os, "fsync" if where == "fsync" else "replace", full)
    with pytest.raises(CheckpointError) as info:
        _save(path, 2)
    monkeypatch.undo()
    _check_refused(path, before, info)


@pytest.mark.slow
def test_the_training_child_on_a_full_disk_fails_in_one_line_then_resumes(run_disk, tmp_path):
    train = shapes_dataset(tmp_path / "data", 4)
    annotations = {p: _sha(p) for p in train.parent.rglob("*") if p.is_file()}
    out = run_disk / "run"
    first = subprocess.run(_cmd("--train-json", train, "--epochs", 1, "--out", out, *FAST), cwd=ROOT, env=_env(),
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    checkpoint = out / "checkpoint.pth"
    before = _sha(checkpoint)
    filler = fill(run_disk, checkpoint.stat().st_size // 2)
    proc = subprocess.run(_cmd("--resume", "--out", out, "--epochs", 2, "--workers", 0), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"detr-workbench train: error: cannot save {checkpoint}: No space left on device", last
    assert _sha(checkpoint) == before and read_checkpoint_state(checkpoint)["state"]["step"] == 2
    assert _leftovers(out) == []
    assert {p: _sha(p) for p in annotations} == annotations  # the user's files untouched
    filler.unlink()  # space is back: the run continues from its last good checkpoint
    done = subprocess.run(_cmd("--resume", "--out", out, "--epochs", 2, "--workers", 0), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    starts = [e for e in _events(out / "metrics.jsonl") if e["type"] == "start"]
    assert starts[-1]["start_step"] == 2 and read_checkpoint_state(checkpoint)["state"]["step"] == 4
