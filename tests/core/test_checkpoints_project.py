"""The project's own checkpoint format: round trip, resume state, plain types only, atomic saving."""
from __future__ import annotations

import errno
import os
import random

import numpy as np
import pytest
import torch

from detr_core.checkpoints import load_checkpoint, read_checkpoint_state, save_checkpoint
from detr_core.model.config import preset
from detr_core.model.detr import build
from detr_core.errors import CheckpointError

NAMES = ["cat", "dog", "bird"]


def _model(seed: int = 0):
    torch.manual_seed(seed)
    cfg = preset("tiny", num_classes=3)
    return build(cfg).eval(), cfg


def _resume_state(model) -> dict:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    out = model.train()(torch.randn(1, 3, 64, 64))
    (out["pred_logits"].sum() + out["pred_boxes"].sum()).backward()
    optimizer.step()
    model.eval()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)
    return {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": 4,
            "step": 123, "rng": {"torch": torch.get_rng_state(), "python": random.getstate()}}


def test_round_trip(tmp_path):
    model, cfg = _model()
    state = _resume_state(model)
    metadata = {"dataset": "pets", "category_ids": [1, 5, 9], "metrics": {"AP": 0.31}}
    path = tmp_path / "best.pth"
    save_checkpoint(path, model, cfg, NAMES, metadata=metadata, state=state)

    loaded = load_checkpoint(path)
    assert loaded.kind == "project"
    assert loaded.config == cfg  # including nheads and the input sizes
    assert loaded.class_names == NAMES
    assert loaded.metadata == metadata
    assert loaded.description == f"DETR Workbench checkpoint: R18, 3 classes (cat, dog, bird), 20 queries ({path})"
    expected = model.state_dict()
    assert loaded.model.state_dict().keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(loaded.model.state_dict()[key], tensor), key
    images = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        assert torch.equal(loaded.model(images)["pred_logits"], model(images)["pred_logits"])

    raw = read_checkpoint_state(path)
    assert raw["format"] == "detr-workbench" and raw["version"] == 1
    assert raw["state"]["epoch"] == 4 and raw["state"]["step"] == 123
    # The saved state really resumes: an optimizer and the RNGs take it back.
    optimizer = torch.optim.AdamW([p for p in loaded.model.parameters() if p.requires_grad], lr=1e-4)
    optimizer.load_state_dict(raw["state"]["optimizer"])
    assert optimizer.state_dict()["state"][0]["step"] == 1
    torch.set_rng_state(raw["state"]["rng"]["torch"])
    random.setstate(raw["state"]["rng"]["python"])


def test_file_is_plain_data(tmp_path):
    model, cfg = _model()
    metadata = {"none": None, "flag": True, "n": 3, "x": 0.5, "s": "s", "b": b"\x00", "t": torch.ones(2),
                "dtype": torch.float16, "device": torch.device("cpu"), "size": torch.Size([2, 3]),
                "nested": [(1, 2), {"k": [torch.zeros(1)]}]}
    save_checkpoint(tmp_path / "a.pth", model, cfg, NAMES, metadata=metadata)
    raw = torch.load(tmp_path / "a.pth", weights_only=True)  # everything allowed loads back
    assert set(raw) == {"format", "version", "model_config", "class_names", "model", "metadata"}
    assert raw["model_config"] == cfg.to_dict()
    assert raw["metadata"]["size"] == torch.Size([2, 3]) and raw["metadata"]["dtype"] is torch.float16


def test_input_size_override(tmp_path):
    model, cfg = _model()
    save_checkpoint(tmp_path / "a.pth", model, cfg, NAMES)
    loaded = load_checkpoint(tmp_path / "a.pth", min_size=300, max_size=500)
    assert (loaded.config.min_size, loaded.config.max_size) == (300, 500)


@pytest.mark.parametrize("metadata,where", [
    ({"mean": np.zeros(3)}, "metadata['mean'] is a numpy.ndarray"),
    ({"when": object()}, "metadata['when'] is a builtins.object"),
    ({"ids": {1, 2}}, "metadata['ids'] is a builtins.set"),
    ({"metrics": {"AP": np.float64(0.3)}}, "metadata['metrics']['AP'] is a numpy.float64"),
])
def test_non_plain_metadata_is_refused_before_writing(tmp_path, metadata, where):
    model, cfg = _model()
    path = tmp_path / "a.pth"
    with pytest.raises(CheckpointError, match=f"cannot save {path}: .*{where}".replace("[", r"\[")):
        save_checkpoint(path, model, cfg, NAMES, metadata=metadata)
    assert list(tmp_path.iterdir()) == []


def test_model_must_match_config_and_names(tmp_path):
    model, cfg = _model()
    with pytest.raises(CheckpointError, match="2 class names for 3 classes"):
        save_checkpoint(tmp_path / "a.pth", model, cfg, NAMES[:2])
    with pytest.raises(CheckpointError, match=r"wrong shape for class_embed.weight .*\[4, 64\] in the model, "
                                              r"its config needs \[6, 64\]"):
        save_checkpoint(tmp_path / "a.pth", model, cfg.replace(num_classes=5), NAMES + ["x", "y"])
    with pytest.raises(CheckpointError, match="does not exist"):
        save_checkpoint(tmp_path / "missing" / "a.pth", model, cfg, NAMES)


@pytest.fixture
def old_checkpoint(tmp_path):
    """A folder holding a previous checkpoint, and its bytes."""
    model, cfg = _model(seed=1)
    path = tmp_path / "best.pth"
    save_checkpoint(path, model, cfg, NAMES, metadata={"epoch": 1})
    return path, path.read_bytes()


def test_disk_full_midway_leaves_old_file_and_no_temp(old_checkpoint, monkeypatch):
    path, old_bytes = old_checkpoint
    real_save = torch.save
    written = []

    class DiskFull:
        """A file that takes 4 KiB, then fails like a full disk."""

        def __init__(self, f):
            self.f, self.count = f, 0

        def write(self, data):
            if self.count + len(data) > 4096:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.count += len(data)
            written.append(len(data))
            return self.f.write(data)

        def flush(self):
            self.f.flush()

    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: real_save(obj, DiskFull(f), *a, **k))
    model, cfg = _model(seed=2)
    with pytest.raises(CheckpointError, match=f"cannot save {path}: No space left on device"):
        save_checkpoint(path, model, cfg, NAMES)
    assert sum(written) > 0  # it really failed midway
    assert path.read_bytes() == old_bytes
    assert [p.name for p in path.parent.iterdir()] == ["best.pth"]


def test_fsync_failure_leaves_old_file(old_checkpoint, monkeypatch):
    path, old_bytes = old_checkpoint

    def failing_fsync(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    model, cfg = _model(seed=2)
    with pytest.raises(CheckpointError, match="Input/output error"):
        save_checkpoint(path, model, cfg, NAMES)
    assert path.read_bytes() == old_bytes
    assert [p.name for p in path.parent.iterdir()] == ["best.pth"]


def test_rename_onto_a_folder_fails_cleanly(tmp_path):
    (tmp_path / "best.pth").mkdir()
    (tmp_path / "best.pth" / "keep.txt").write_text("x")
    model, cfg = _model()
    with pytest.raises(CheckpointError, match=f"cannot save {tmp_path / 'best.pth'}"):
        save_checkpoint(tmp_path / "best.pth", model, cfg, NAMES)
    assert [p.name for p in tmp_path.iterdir()] == ["best.pth"]
    assert (tmp_path / "best.pth" / "keep.txt").read_text() == "x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_folder(old_checkpoint):
    path, old_bytes = old_checkpoint
    path.parent.chmod(0o500)
    try:
        model, cfg = _model(seed=2)
        with pytest.raises(CheckpointError, match=f"cannot save {path}"):
            save_checkpoint(path, model, cfg, NAMES)
    finally:
        path.parent.chmod(0o700)
    assert path.read_bytes() == old_bytes


def test_read_checkpoint_state_refuses_other_formats(tmp_path):
    model, _ = _model()
    torch.save({"model": model.state_dict()}, tmp_path / "official.pth")
    with pytest.raises(CheckpointError, match="not a DETR Workbench checkpoint"):
        read_checkpoint_state(tmp_path / "official.pth")


@pytest.mark.parametrize("change,message", [
    ({"version": 2}, "version 2; this program reads version 1"),
    ({"class_names": None}, "'class_names' is missing"),
    ({"model_config": {"backbone": "vgg16"}}, "unknown backbone 'vgg16'"),
    ({"model_config": {"colour": "red"}}, "unknown model config keys: colour"),
])
def test_malformed_project_files(tmp_path, change, message):
    model, cfg = _model()
    path = tmp_path / "a.pth"
    save_checkpoint(path, model, cfg, NAMES)
    raw = torch.load(path, weights_only=True)
    raw.update(change)
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
