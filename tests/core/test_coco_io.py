"""Saving for real: atomic replace, .bak, changes made by others, full disks, read-only folders,
file modes and symlinks; keeping the file's own formatting; finding the image folder."""
from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess

import pytest
from PIL import Image

from detr_core.coco import CocoDocument, DiskChangedError
from detr_core.coco import io as coco_io
from detr_core.errors import DatasetError


def small_coco() -> dict:
    return {"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 6}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2],
                             "area": 4, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "thing", "supercategory": ""}]}


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(small_coco(), indent=2) + "\n")
    doc, _ = CocoDocument.load(path)
    return doc, path


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_save_is_atomic_with_backup(saved):
    doc, path = saved
    before = path.read_bytes()
    doc.set_bbox(1, [0, 0, 3, 3])
    assert doc.dirty
    doc.save()
    assert not doc.dirty
    assert path.with_name("ann.json.bak").read_bytes() == before
    assert json.loads(path.read_text())["annotations"][0]["bbox"] == [0.0, 0.0, 3.0, 3.0]
    assert _leftovers(path.parent) == []
    doc.set_bbox(1, [0, 0, 4, 4])
    second = path.read_bytes()
    doc.save(backup=False)
    assert path.with_name("ann.json.bak").read_bytes() == before != second


def test_disk_changed_same_size_and_mtime_is_still_caught(saved):
    doc, path = saved
    st = path.stat()
    text = path.read_text()
    changed = text.replace('"thing"', '"THING"')
    assert len(changed) == len(text)
    path.write_text(changed)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: hash decides
    doc.add_category("other")
    with pytest.raises(DiskChangedError, match=str(path)):
        doc.save()
    assert path.read_text() == changed and doc.dirty
    doc.save(force=True)
    assert json.loads(path.read_text())["categories"][1]["name"] == "other"
    assert path.with_name("ann.json.bak").read_text() == changed  # the other edit is not lost


def test_disk_changed_after_our_own_save_is_tracked(saved):
    doc, path = saved
    doc.add_category("x")
    doc.save()
    doc.add_category("y")
    doc.save()  # our own write is not "someone else's"
    path.write_text(path.read_text() + " ")
    doc.add_category("z")
    with pytest.raises(DiskChangedError):
        doc.save()


def test_touch_without_change_and_deleted_file_are_not_conflicts(saved):
    doc, path = saved
    os.utime(path, ns=(1, 1))
    doc.add_category("x")
    doc.save()
    path.unlink()
    doc.add_category("y")
    doc.save()
    assert json.loads(path.read_text())["categories"][-1]["name"] == "y"


def _fail_with(errno_code):
    def fail(*args, **kwargs):
        raise OSError(errno_code, os.strerror(errno_code))
    return fail


@pytest.mark.parametrize("target", ["fsync", "replace"])
def test_disk_full_leaves_old_file_and_edits(saved, monkeypatch, target):
    doc, path = saved
    before = path.read_bytes()
    doc.add_category("new")
    revision = doc.revision
    monkeypatch.setattr(coco_io.os, target, _fail_with(errno.ENOSPC))
    with pytest.raises(DatasetError, match=f"{path}: cannot save \\(No space left on device\\)"):
        doc.save()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(path.parent) == []
    assert doc.dirty and doc.revision == revision and doc.category_by_name("new")
    doc.save()  # space again: the edits were kept and still save
    assert json.loads(path.read_text())["categories"][-1]["name"] == "new"


def _make_read_only(folder):
    """chmod, or for root (which ignores modes) the immutable attribute. Returns an undo."""
    folder.chmod(0o555)
    probe = folder / "probe"
    try:
        probe.write_bytes(b"")
    except PermissionError:
        return lambda: folder.chmod(0o755)
    probe.unlink()
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)],
                                                 capture_output=True).returncode == 0:
        return lambda: (subprocess.run(["chattr", "-i", str(folder)], check=True),
                        folder.chmod(0o755))
    folder.chmod(0o755)
    pytest.skip("cannot make a read-only folder here (root without chattr)")


def test_read_only_folder(saved):
    doc, path = saved
    before = path.read_bytes()
    doc.add_category("new")
    undo = _make_read_only(path.parent)
    try:
        with pytest.raises(DatasetError, match=f"{path}: cannot save"):
            doc.save()
        assert path.read_bytes() == before and doc.dirty
        assert _leftovers(path.parent) == []
    finally:
        undo()
    doc.save()
    assert not doc.dirty


def test_save_into_missing_folder_names_the_path(saved, tmp_path):
    doc, _ = saved
    target = tmp_path / "nope" / "x.json"
    with pytest.raises(DatasetError, match=str(target)):
        doc.save(target)
    assert doc.path != target


def test_mode_and_symlink_kept(saved, tmp_path):
    doc, path = saved
    path.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(path)
    other, _ = CocoDocument.load(link)
    other.add_category("x")
    other.save()
    assert link.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert json.loads(path.read_text())["categories"][-1]["name"] == "x"


def test_save_as_moves_the_document(saved, tmp_path):
    doc, path = saved
    target = tmp_path / "copy.json"
    doc.save(target)
    assert doc.path == target and not doc.dirty
    target.write_text(target.read_text() + "\n")
    with pytest.raises(DiskChangedError, match="copy.json"):
        doc.save()


@pytest.mark.parametrize("dump", [
    lambda d: json.dumps(d),
    lambda d: json.dumps(d, separators=(",", ":")),
    lambda d: json.dumps(d, separators=(",", ": ")),
    lambda d: json.dumps(d, indent=4) + "\n",
    lambda d: json.dumps(d, indent="\t"),
    lambda d: json.dumps(d, indent=1, ensure_ascii=True),
    lambda d: json.dumps(d, indent=2, ensure_ascii=False) + "\n",
])
def test_formatting_is_kept(tmp_path, dump):
    data = {"info": {"description": "made by a, b: c \\\" d, e"}, **small_coco()}
    data["categories"][0]["name"] = "café ☕"
    path = tmp_path / "f.json"
    path.write_bytes(dump(data).encode("utf-8"))
    doc, _ = CocoDocument.load(path)
    doc.save()
    assert path.read_bytes() == path.with_name("f.json.bak").read_bytes()


def test_unreadable_inputs_are_one_line_errors(tmp_path):
    cases = {"missing.json": None, "folder.json": "dir", "empty.json": b"  \n",
             "latin1.json": '{"a": "caf\xe9"}'.encode("latin-1")}
    for name, content in cases.items():
        path = tmp_path / name
        if content == "dir":
            path.mkdir()
        elif content is not None:
            path.write_bytes(content)
        with pytest.raises(DatasetError) as info:
            CocoDocument.load(path)
        assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def _png(path, size=(8, 6)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size).save(path)


def test_siblings_are_searched_only_in_the_coco_layout(tmp_path):
    _png(tmp_path / "train" / "a.png")
    (tmp_path / "json").mkdir()
    path = tmp_path / "json" / "train.json"
    path.write_text(json.dumps(small_coco()))
    assert CocoDocument.load(path)[0].image_root == tmp_path / "json"
    (tmp_path / "json").rename(tmp_path / "annotations")
    assert CocoDocument.load(tmp_path / "annotations" / "train.json")[0].image_root == \
        tmp_path / "train"


@pytest.mark.parametrize("layout", ["same", "images", "sibling", "parent"])
def test_image_root_is_found(tmp_path, layout):
    json_dir = tmp_path / "annotations"
    json_dir.mkdir()
    folder = {"same": json_dir, "images": json_dir / "images", "sibling": tmp_path / "train",
              "parent": tmp_path}[layout]
    (tmp_path / "decoy").mkdir()
    _png(folder / "a.png")
    path = json_dir / "train.json"
    path.write_text(json.dumps(small_coco()))
    doc, report = CocoDocument.load(path)
    assert doc.image_root == folder and doc.image_path(1).is_file()
    assert report.warnings == [] and report.image_root == folder


def test_image_root_not_found_or_given(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(small_coco()))
    doc, report = CocoDocument.load(path)
    assert doc.image_root == tmp_path
    assert report.warnings == [f"1 of 1 image files not found under {tmp_path}"]
    with pytest.raises(DatasetError, match="image folder not found"):
        CocoDocument.load(path, tmp_path / "nope")
    _png(tmp_path / "elsewhere" / "a.png")
    doc, report = CocoDocument.load(path, tmp_path / "elsewhere")
    assert report.image_root_reason == "given" and report.warnings == []
