"""The edit journal and saving under faults (no Qt): torn and damaged lines, a full disk (a real
small tmpfs when this machine lets us mount one, and an injected ENOSPC), a read-only folder, and
the file changed on disk by another program. Each leaves the user's files intact and says what
happened in one line naming the file."""
from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest

from app.document.journal import Journal, frame, read_journal
from app.document.journalling import JournalKeeper
from app.document.replay import StaleJournalError, rebuild
from detr_core.coco import CocoDocument, DiskChangedError
from detr_core.errors import DatasetError

from crash_script import make_coco


def saved_doc(folder: Path, images: int = 3, boxes: int = 2) -> CocoDocument:
    folder.mkdir(parents=True, exist_ok=True)
    CocoDocument(make_coco(images, boxes), folder, None).save(folder / "annotations.json")
    return CocoDocument.load(folder / "annotations.json")[0]


def journalled(doc: CocoDocument, errors: list | None = None) -> JournalKeeper:
    keeper = JournalKeeper(on_error=errors.append if errors is not None else None)
    keeper.attach(doc, doc.path.with_name(doc.path.name + ".journal"), doc.path)
    return keeper


@pytest.fixture
def tmpfs(tmp_path):
    """A 256 KiB file system of its own (skipped where mounting is not allowed)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system of `folder` to the last byte."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for chunk in (65536, 4096, 512, 64, 8, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_torn_or_damaged_last_line_is_skipped_and_the_rest_replays(tmp_path):
    doc = saved_doc(tmp_path)
    keeper = journalled(doc)
    ids = [doc.add_annotation(1, 1, [1, 1, 5, 5]) for _ in range(3)]
    keeper.detach()
    journal = keeper_path = doc.path.with_name("annotations.json.journal")
    whole = journal.read_bytes()
    assert len(read_journal(journal).records) == 3 and not read_journal(journal).torn
    for cut in (1, 7, 40):  # a crash in the middle of the last append
        journal.write_bytes(whole + frame({"op": "set_bbox", "args": [ids[0], [0, 0, 1, 1]]})[:cut])
        contents = read_journal(journal)
        assert contents.torn and len(contents.records) == 3
        assert rebuild(journal, doc.path, tmp_path).document.data == doc.data
    damaged = bytearray(whole)
    damaged[-5] ^= 0x01  # one flipped bit in the last record: its checksum fails
    journal.write_bytes(bytes(damaged))
    assert len(read_journal(journal).records) == 2 and read_journal(keeper_path).torn
    journal.write_bytes(b"garbage\n")
    with pytest.raises(DatasetError, match="not a readable edit journal"):
        rebuild(journal, doc.path, tmp_path)


def _check_full_journal(doc, keeper, errors, free) -> None:
    """Edits while the disk is full: one message; once there is room, nothing is missing."""
    for _ in range(100):  # more than the last page of the journal holds
        doc.add_annotation(2, 2, [3, 3, 4, 4], note="n" * 100)
    assert keeper.journal.flush()
    assert len(errors) == 1 and "\n" not in errors[0]
    assert str(keeper.path) in errors[0] and "No space left on device" in errors[0]
    before = read_journal(keeper.path) if keeper.path.exists() else None
    assert before is None or not before.torn  # never a torn frame in the middle of the file
    free()
    doc.set_bbox(doc.annotations[0]["id"], [9, 9, 9, 9])  # the next edit writes what waited
    assert keeper.journal.flush()
    assert errors[-1] is None and keeper.journal.error is None
    assert rebuild(keeper.path, doc.path, doc.image_root).document.data == doc.data
    keeper.detach()


def test_disk_full_while_journalling_injected(tmp_path, monkeypatch):
    doc = saved_doc(tmp_path)
    errors: list = []
    keeper = journalled(doc, errors)
    doc.add_annotation(1, 1, [1, 1, 5, 5])
    assert keeper.journal.flush()
    real_write, full = os.write, [True]

    def write(fd, data):  # ENOSPC for the journal only, after half of the bytes went out
        if full[0] and fd == keeper.journal._fd:
            real_write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    _check_full_journal(doc, keeper, errors, lambda: full.__setitem__(0, False))


def test_disk_full_while_journalling_on_a_full_tmpfs(tmpfs):
    doc = saved_doc(tmpfs)
    errors: list = []
    keeper = journalled(doc, errors)
    doc.add_annotation(1, 1, [1, 1, 5, 5])
    assert keeper.journal.flush()
    filler = fill(tmpfs)
    _check_full_journal(doc, keeper, errors, filler.unlink)


@pytest.mark.parametrize("how", ["tmpfs", "fsync"])
def test_disk_full_while_saving_keeps_the_file(tmp_path, request, monkeypatch, how):
    folder = request.getfixturevalue("tmpfs") if how == "tmpfs" else tmp_path
    doc = saved_doc(folder, images=40, boxes=5)
    original = doc.path.read_bytes()
    for _ in range(200):
        doc.add_annotation(1, 1, [1, 1, 5, 5], note="x" * 40)
    if how == "tmpfs":
        fill(folder)
    else:  # delayed allocation: the write "succeeds", the fsync reports the full disk
        def fsync(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(DatasetError) as caught:
        doc.save()
    message = str(caught.value)
    assert "\n" not in message and str(doc.path) in message and "No space left" in message
    assert "unchanged" in message and doc.dirty
    monkeypatch.undo()
    assert doc.path.read_bytes() == original
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temp file


def test_a_read_only_folder_refuses_the_save_and_keeps_the_journal_elsewhere(tmpfs, tmp_path):
    doc = saved_doc(tmpfs)
    original = doc.path.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    doc.add_annotation(1, 1, [1, 1, 5, 5])
    with pytest.raises(DatasetError) as caught:
        doc.save()
    assert "Read-only file system" in str(caught.value) and str(doc.path) in str(caught.value)
    assert doc.path.read_bytes() == original
    from app.document.recovery import journal_path  # the journal goes to the app data folder instead
    fallback = journal_path(doc.path, tmp_path / "appdata")
    assert fallback.parent == tmp_path / "appdata" and fallback.name.endswith("annotations.json.journal")


def test_the_file_changed_by_another_program_is_never_overwritten_silently(tmp_path):
    doc = saved_doc(tmp_path)
    keeper = journalled(doc)
    doc.add_annotation(1, 1, [1, 1, 5, 5])
    theirs = json.loads(doc.path.read_text())
    theirs["info"]["description"] = "edited elsewhere"
    doc.path.write_text(json.dumps(theirs))
    with pytest.raises(DiskChangedError) as caught:
        doc.save()
    assert "\n" not in str(caught.value) and str(doc.path) in str(caught.value)
    assert json.loads(doc.path.read_text()) == theirs and doc.dirty
    # After a crash, the journal cannot be replayed on their version: said in one line.
    assert keeper.journal.flush()
    with pytest.raises(StaleJournalError, match="changed on disk since"):
        rebuild(keeper.path, doc.path, tmp_path)
    doc.save(force=True)  # the user chose to overwrite: theirs is kept as .bak
    assert json.loads(doc.path.with_name("annotations.json.bak").read_text()) == theirs
    keeper.detach()


def test_a_journal_refuses_appends_after_close(tmp_path):
    journal = Journal(tmp_path / "x.journal", {"journal": 1})
    journal.close()
    with pytest.raises(RuntimeError, match="journal is closed"):
        journal.append({"op": "set_bbox"})
