"""Official names through torch.hub's cache: hash checks, offline message. Nothing is downloaded:
the network call is replaced, the files are small local ones with their real SHA-256 prefix."""
from __future__ import annotations

import hashlib
import shutil
import urllib.error
from pathlib import Path

import pytest
import torch

from detr_core.checkpoints import OFFICIAL_CHECKPOINTS, load_checkpoint
from detr_core.model.config import preset
from detr_core.model.detr import build
from detr_core.errors import CheckpointError

URL = "https://example.invalid/detr/"


@pytest.fixture(autouse=True)
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)

    def no_network(url, dst, hash_prefix=None, progress=True):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "torch-home"


def _cache(torch_home: Path) -> Path:
    return torch_home / "hub" / "checkpoints"


def _tiny_file(folder: Path, stem: str = "tiny", **changes) -> tuple[Path, str, torch.nn.Module]:
    """A small official-layout checkpoint named like torch.hub files: <stem>-<sha256[:8]>.pth."""
    torch.manual_seed(0)
    model = build(preset("tiny", num_classes=4, nheads=8, **changes)).eval()
    tmp = folder / "unnamed.pth"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    path = folder / f"{stem}-{digest[:8]}.pth"
    tmp.rename(path)
    return path, digest, model


def test_table_is_the_official_one(torch_home):
    assert set(OFFICIAL_CHECKPOINTS) == {"detr-r50", "detr-r101", "detr-r50-dc5", "detr-r101-dc5"}
    url, filename, cfg = OFFICIAL_CHECKPOINTS["detr-r101-dc5"]
    assert url == "https://dl.fbaipublicfiles.com/detr/detr-r101-dc5-a2e86def.pth"
    assert filename == "detr-r101-dc5-a2e86def.pth"
    assert (cfg.backbone, cfg.dilation) == ("resnet101", True)
    assert OFFICIAL_CHECKPOINTS["detr-r50"][:2] == ("https://dl.fbaipublicfiles.com/detr/detr-r50-e632da11.pth",
                                                    "detr-r50-e632da11.pth")
    assert OFFICIAL_CHECKPOINTS["detr-r101"][1] == "detr-r101-2c7b67e5.pth"
    assert OFFICIAL_CHECKPOINTS["detr-r50-dc5"][1] == "detr-r50-dc5-f0fb7ef5.pth"


def test_offline_message_names_the_file_and_where_to_put_it(torch_home):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint("detr-r50")
    message = str(info.value)
    expected_path = _cache(torch_home) / "detr-r50-e632da11.pth"
    assert f"download https://dl.fbaipublicfiles.com/detr/detr-r50-e632da11.pth and put it at {expected_path}" \
        in message
    assert "Temporary failure in name resolution" in message
    assert "\n" not in message
    assert not expected_path.exists()


def test_cached_file_is_verified_and_loaded(torch_home, monkeypatch):
    path, _, model = _tiny_file(_cache(torch_home))
    monkeypatch.setitem(OFFICIAL_CHECKPOINTS, "detr-r50", (URL + path.name, path.name, preset("detr-r50")))
    loaded = load_checkpoint("detr-r50")  # the download function would raise: the cache is used
    assert loaded.kind == "official" and loaded.source == "detr-r50"
    assert f"(detr-r50: {path})" in loaded.description
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], tensor)


def test_hash_mismatch_is_refused(torch_home, monkeypatch):
    path, digest, _ = _tiny_file(_cache(torch_home))
    wrong = "0" * 8 if not digest.startswith("0" * 8) else "1" * 8
    renamed = path.with_name(f"tiny-{wrong}.pth")
    path.rename(renamed)
    monkeypatch.setitem(OFFICIAL_CHECKPOINTS, "detr-r50", (URL + renamed.name, renamed.name, preset("detr-r50")))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint("detr-r50")
    message = str(info.value)
    assert str(renamed) in message
    assert f"SHA-256 starts with {digest[:8]}, expected {wrong}" in message


def test_a_changed_cached_file_is_checked_again(torch_home, monkeypatch):
    path, _, _ = _tiny_file(_cache(torch_home))
    monkeypatch.setitem(OFFICIAL_CHECKPOINTS, "detr-r50", (URL + path.name, path.name, preset("detr-r50")))
    load_checkpoint("detr-r50")
    with open(path, "ab") as f:
        f.write(b"tampered")
    with pytest.raises(CheckpointError, match="damaged or not the official file"):
        load_checkpoint("detr-r50")


def test_download_goes_to_the_cache_with_the_hash_prefix(torch_home, tmp_path, monkeypatch):
    source, digest, _ = _tiny_file(tmp_path / "server", stem="dc5less",
                                   backbone="resnet50", dilation=True)  # the name does not say dc5
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, dst, hash_prefix))
        shutil.copyfile(source, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    monkeypatch.setitem(OFFICIAL_CHECKPOINTS, "detr-r50-dc5",
                        (URL + source.name, source.name, preset("detr-r50-dc5")))
    loaded = load_checkpoint("detr-r50-dc5")
    dst = _cache(torch_home) / source.name
    assert calls == [(URL + source.name, str(dst), digest[:8])]
    assert loaded.config.dilation is True  # from the table, since the file does not record it
    load_checkpoint("detr-r50-dc5")
    assert len(calls) == 1  # cached now


def test_download_with_a_bad_hash(torch_home, monkeypatch):
    def bad_hash(url, dst, hash_prefix=None, progress=True):
        raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "deadbeef")')

    monkeypatch.setattr(torch.hub, "download_url_to_file", bad_hash)
    with pytest.raises(CheckpointError, match="failed its SHA-256 check .*nothing was saved to"):
        load_checkpoint("detr-r101")


def test_unknown_name(torch_home):
    with pytest.raises(CheckpointError, match="detr-r52 is neither a file nor an official name"):
        load_checkpoint("detr-r52")


def test_a_local_file_wins_over_a_name(torch_home, tmp_path, monkeypatch):
    path, _, _ = _tiny_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    path.rename(tmp_path / "detr-r50")
    assert "(detr-r50)" in load_checkpoint("detr-r50").description
