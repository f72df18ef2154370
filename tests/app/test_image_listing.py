"""`detect DIR` and opening DIR in the workbench see the same files: one lister (detr_core.images).

The tree has everything that used to make them disagree: hidden files and folders, upper-case
extensions, non-images (one named like an image), a link to an image, a link to a folder, a broken
link, and nested folders."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from app.document.opening import open_source
from detr_core.cli.main import main as cli_main
from detr_core.images import list_images
from model_helpers import make_checkpoint

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symbolic links")

EXPECTED = ["a/b/deep.tiff", "a/one.JPG", "link-to-top.png", "top.png", "x/UPPER.PNG", "x/three.jpeg"]


def _image(path: Path, size=(40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 60, 30)).save(path, format="PNG" if path.suffix.lower() == ".png" else
                                               "TIFF" if path.suffix.lower() == ".tiff" else "JPEG")


def _tree(root: Path) -> Path:
    for name in ("top.png", "a/one.JPG", "a/b/deep.tiff", "x/UPPER.PNG", "x/three.jpeg",
                 ".hidden.png", "a/._one.JPG", ".thumbnails/t.png", "a/.cache/c.jpeg"):
        _image(root / name)
    (root / "notes.txt").write_text("not an image")
    (root / "a" / "photo.jpg.txt").write_text("not an image either")
    (root / "link-to-top.png").symlink_to(root / "top.png")
    _image(root.parent / "elsewhere.png")  # reachable only through the link to a folder
    (root / "x" / "folder-link").symlink_to(root.parent, target_is_directory=True)  # a cycle, too
    (root / "x" / "broken.png").symlink_to(root / "missing.png")
    return root


@pytest.mark.slow
def test_detect_dir_and_opening_dir_list_the_same_images(tmp_path, capsys):
    (tmp_path / "models").mkdir()
    tree = _tree(tmp_path / "tree")
    opened = open_source(tree)
    in_window = sorted(Path(e.path).relative_to(tree).as_posix() for e in opened.entries)

    checkpoint = make_checkpoint(tmp_path / "models" / "tiny.pth")
    results = tmp_path / "results.json"
    code = cli_main(["detect", str(tree), "-c", str(checkpoint), "--device", "cpu", "--threshold", "0",
                     "--topk", "1", "--out", str(results)])
    assert code == 0, capsys.readouterr().err
    detected = sorted({r["file_name"] for r in json.loads(results.read_text())})

    assert in_window == detected == EXPECTED
    assert [p.relative_to(tree).as_posix() for p in list_images(tree)] == EXPECTED  # sorted by path
