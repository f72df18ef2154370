"""`detr-workbench detect` end to end on real images, and its errors."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from detr_core.cli.main import main
from detr_core.model.config import preset
from detr_core.model.detr import build


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny model in the official layout ({'model': state_dict}), 91 COCO classes."""
    torch.manual_seed(0)
    cfg = preset("tiny", num_classes=91, hidden_dim=64, nheads=8)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    torch.save({"model": build(cfg).state_dict(), "args": None}, path)
    return path


@pytest.fixture()
def folder(tmp_path, shared_data):
    images = tmp_path / "imgs"
    (images / "sub").mkdir(parents=True)
    shutil.copy(shared_data / "images" / "coco_val2017_000000397133.jpg", images / "kitchen.jpg")
    shutil.copy(shared_data / "images" / "coco_val2017_000000039769.png", images / "sub" / "cats.png")
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return images


@pytest.mark.slow
def test_detect_folder_writes_every_query_and_survives_a_bad_image(folder, checkpoint, tmp_path, capsys):
    out = tmp_path / "results.json"
    code = main(["detect", str(folder), "--checkpoint", str(checkpoint), "--threshold", "0",
                 "--topk", "100", "--device", "cpu", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1  # one image failed ...
    assert f"{folder / 'broken.jpg'}: corrupt or truncated" in err or "broken.jpg" in err
    assert "Traceback" not in err
    results = json.loads(out.read_text())  # ... but the others are written
    names = {r["file_name"] for r in results}
    assert names == {"kitchen.jpg", "sub/cats.png"}
    per_image = {n: [r for r in results if r["file_name"] == n] for n in names}
    assert all(len(v) == 20 for v in per_image.values())  # every query of the tiny model
    assert sorted(r["query"] for r in per_image["kitchen.jpg"]) == list(range(20))
    r = per_image["sub/cats.png"][0]
    assert set(r) == {"image_id", "file_name", "category_id", "bbox", "score", "query"}
    x, y, w, h = r["bbox"]
    assert w >= 0 and h >= 0 and x + w <= 640 + 1 and y + h <= 480 + 1


@pytest.mark.slow
def test_attention_dir(folder, checkpoint, tmp_path):
    (folder / "broken.jpg").unlink()
    att = tmp_path / "att"
    assert main(["detect", str(folder / "kitchen.jpg"), "-c", str(checkpoint), "--device", "cpu",
                 "--threshold", "0.0", "--out", str(tmp_path / "r.json"), "--attention-dir", str(att)]) == 0
    data = np.load(att / "kitchen.npz")
    assert data["decoder"].shape == (20, 25, 38)  # official layout: 800x1199 input
    np.testing.assert_allclose(data["decoder"].astype(np.float32).sum(axis=(1, 2)), 1.0, atol=1e-2)
    assert (att / "kitchen.png").stat().st_size > 1000


@pytest.mark.parametrize("args,message", [
    (["--checkpoint", "{tmp}/missing.pth"], "missing.pth"),
    (["--checkpoint", "{tmp}/junk.pth"], "junk.pth"),
    (["--device", "cuda:7"], "cuda"),
])
def test_errors_are_one_line(folder, checkpoint, tmp_path, capsys, args, message):
    if "cuda" in message and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (tmp_path / "junk.pth").write_bytes(b"definitely not a checkpoint")
    args = [a.format(tmp=tmp_path) for a in args]
    if "--checkpoint" not in args:
        args += ["--checkpoint", str(checkpoint)]
    code = main(["detect", str(folder / "kitchen.jpg"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert message in err[-1] and err[-1].startswith("detr-workbench detect: error:")
    assert not any("Traceback" in line for line in err)


def test_subprocess_exit_code_and_no_traceback(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"")
    result = subprocess.run([sys.executable, "-m", "detr_core", "detect", str(tmp_path / "nothing"),
                             "--checkpoint", "detr-r50"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "nothing: no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr
