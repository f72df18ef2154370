"""The decisions on predictions in the edit journal, without a window: a child process accepts and
rejects through a real JournalKeeper and kills itself with SIGKILL; the journal it leaves rebuilds
the boxes and the decisions together (app/model/decision_journal.py is Qt-free, like the
document layer it rides on)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.document.journal import frame
from app.document.journalling import JournalKeeper
from app.document.opening import open_source
from app.document.recovery import check_journal
from app.document.replay import rebuild
from app.model.decision_journal import DecisionJournal, settle
from app.model.decisions import REJECTED, DecisionBook, sidecar_for

ROOT = Path(__file__).resolve().parents[3]
MODEL, SIZE = "f" * 64, (800, 1333)

CHILD = r"""
import os, signal, sys
from pathlib import Path
from app.document.journalling import JournalKeeper
from app.model.decision_journal import DecisionJournal
from app.model.decisions import DecisionBook, REJECTED
from detr_core.coco import CocoDocument

target = Path(sys.argv[1])
image = str(target.parent / "images" / "a.png")
model, size = "f" * 64, (800, 1333)
doc, _ = CocoDocument.load(target)
keeper, book = JournalKeeper(), DecisionBook()
keeper.attach(doc, target.with_name(target.name + ".journal"), target)
journaling = DecisionJournal(book, keeper, lambda: target, lambda: None)
journaling.load()                                # what opening does: the header takes the saved file's
kept = doc.add_annotation(1, 1, [10, 10, 20, 20])  # an accept: the box, then its decision
book.decide(image, model, size, 4, kept)
book.decide(image, model, size, 7, REJECTED)
if sys.argv[2] == "compact":
    assert keeper.compact(target).wait(5)        # the autosave: the header now carries the book
undone = doc.add_annotation(1, 1, [40, 40, 5, 5])  # accepted, then undone
book.decide(image, model, size, 9, undone)
doc.remove_annotation(undone)
book.decide(image, model, size, 2, REJECTED)
book.undecide(image, model, size, 2)             # un-rejected
if sys.argv[2] == "all-undone":
    doc.remove_annotation(kept)                  # every edit undone: the document is its file again
assert keeper.journal.written(5)                 # what the writer thread does within 0.2 s
assert "PySide6" not in sys.modules              # the decision journal is Qt-free
print(kept, undone, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _saved_file(tmp_path: Path) -> Path:
    (tmp_path / "images").mkdir()
    target = tmp_path / "annotations.json"
    target.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}],
                                  "annotations": [], "categories": [{"id": 1, "name": "cat"}]}))
    return target


def _crash(target: Path, mode: str) -> tuple[int, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(target), mode], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr  # killed, not exited
    kept, undone = (int(v) for v in done.stdout.split())
    return kept, undone


def _recovered_book(target: Path):
    journal = target.with_name(target.name + ".journal")
    recovered = rebuild(journal, target, target.parent / "images")
    book, keeper = DecisionBook(), JournalKeeper()  # what the session does with the recovered document
    keeper.attach(recovered.document, journal, target, recovered=True)
    try:
        DecisionJournal(book, keeper, lambda: target, lambda: recovered.extras).load()
    finally:
        keeper.detach()
    return recovered.document, book


def test_decisions_come_back_with_their_boxes_after_sigkill(tmp_path):
    for mode in ("plain", "compact"):
        folder = tmp_path / mode
        folder.mkdir()
        target = _saved_file(folder)
        kept, undone = _crash(target, mode)
        document, book = _recovered_book(target)
        ids = {a["id"] for a in document.annotations}
        assert ids == {kept} and undone != kept
        image = os.path.normpath(folder / "images" / "a.png")
        marks = book.of(image, MODEL, SIZE)
        assert marks == {4: kept, 7: REJECTED, 9: undone}, mode  # 2: rejected, then un-rejected
        assert marks[9] not in ids  # the undone box: its prediction shows again
        # The next box takes a fresh id: never the undone one's, so that decision stays dead.
        assert document.add_annotation(1, 1, [1, 1, 2, 2]) not in (kept, undone)


def test_a_saved_decisions_file_is_the_start_of_a_journal_without_a_book_in_its_header(tmp_path):
    """A journal whose header had no decisions (written before this version) starts from the
    file saved beside the document, then its records."""
    target = _saved_file(tmp_path)
    book = DecisionBook()
    image = str(tmp_path / "images" / "a.png")
    book.decide(image, MODEL, SIZE, 1, REJECTED)
    book.write(target, lambda _path, _ann: True)
    kept, undone = _crash(target, "plain")
    journal = target.with_name(target.name + ".journal")
    lines = journal.read_bytes().splitlines()
    header = json.loads(lines[0].split(b" ", 2)[2])
    header.pop("extras")
    journal.write_bytes(frame(header) + b"\n".join(lines[1:]) + b"\n")
    _document, recovered = _recovered_book(target)
    assert recovered.of(os.path.normpath(image), MODEL, SIZE) == {1: REJECTED, 4: kept, 7: REJECTED,
                                                                   9: undone}


def test_a_journal_that_gives_back_the_file_leaves_its_decisions_beside_it(tmp_path):
    """Every edit undone before the SIGKILL: the journal replays to the file, so it is not offered;
    the reject made meanwhile goes to the decisions file instead (accepted ones whose box is gone,
    and the un-rejected one, do not), and a second look at the same journal writes nothing."""
    target = _saved_file(tmp_path)
    _crash(target, "all-undone")
    journal = target.with_name(target.name + ".journal")
    left = journal.read_bytes()
    assert check_journal(open_source(target), journal, settle) == (False, None)
    assert not journal.exists()
    book = DecisionBook()
    book.read(target)
    assert book.items() == [((os.path.normpath(tmp_path / "images" / "a.png"), MODEL, SIZE), {7: REJECTED})]
    written = sidecar_for(target).stat()
    journal.write_bytes(left)
    assert check_journal(open_source(target), journal, settle) == (False, None)
    again = sidecar_for(target).stat()
    assert (again.st_ino, again.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
