"""One user action, one journal frame (no Qt): what JournalKeeper.action() brackets is written as one
checksummed line, so a journal cut anywhere inside it replays to the document before the action, and
the whole one to the document after it; records outside an action are lines of their own, written
at once, as before; a compaction or a save in the middle of an action keeps every edit exactly
once; a version 1 journal (one record a line) still replays."""
from __future__ import annotations

import json

import pytest

from app.document.journal import frame, read_journal
from app.document.journalling import JournalKeeper
from app.document.replay import rebuild
from detr_core.coco import CocoDocument

from crash_script import make_coco


@pytest.fixture
def doc(tmp_path) -> CocoDocument:
    CocoDocument(make_coco(3, 2), tmp_path, None).save(tmp_path / "annotations.json")
    return CocoDocument.load(tmp_path / "annotations.json")[0]


def keeper_of(doc: CocoDocument) -> JournalKeeper:
    keeper = JournalKeeper()
    keeper.attach(doc, journal_of(doc), doc.path)
    return keeper


def journal_of(doc: CocoDocument):
    return doc.path.with_name(doc.path.name + ".journal")


def data(doc: CocoDocument) -> str:
    return json.dumps(doc.data)


def test_a_journal_cut_inside_an_action_replays_all_of_it_or_none(doc):
    keeper = keeper_of(doc)
    box = doc.add_annotation(1, 1, [1, 1, 5, 5])  # before the action: a line of its own
    assert keeper.journal.written()
    before, lines_before = data(doc), keeper.path.read_bytes()
    with keeper.action():
        doc.set_bbox(box, [2, 2, 6, 6])
        doc.set_image_field(1, "workbench_status", "edited")
        with keeper.action():  # nested: joins the outer one
            doc.add_annotation(2, 2, [3, 3, 4, 4])
        keeper.note("decisions", ["img1.jpg", "model", [800, 1333], 4, box])
        assert keeper.journal.written() and keeper.path.read_bytes() == lines_before  # held until the end
    assert keeper.journal.written()
    after, whole = data(doc), keeper.path.read_bytes()
    keeper.detach()
    assert whole.startswith(lines_before) and whole.count(b"\n") == lines_before.count(b"\n") + 1
    contents = read_journal(journal_of(doc))
    assert [r.get("op", r.get("extra")) for r in contents.records] == \
        ["add_annotation", "set_bbox", "set_image_field", "add_annotation", "decisions"]
    for cut in range(len(lines_before), len(whole)):  # every byte a kill could have left
        journal_of(doc).write_bytes(whole[:cut])
        recovered = rebuild(journal_of(doc), doc.path, doc.image_root)
        assert data(recovered.document) == before and recovered.extras.records == (), f"cut at {cut}"
        assert recovered.torn == (cut > len(lines_before))
    journal_of(doc).write_bytes(whole)
    recovered = rebuild(journal_of(doc), doc.path, doc.image_root)
    assert data(recovered.document) == after and recovered.edits == 4
    assert recovered.extras.records == (("decisions", ["img1.jpg", "model", [800, 1333], 4, box]),)


def test_an_action_of_one_record_is_a_plain_line_and_an_exception_still_ends_it(doc):
    keeper = keeper_of(doc)
    with keeper.action():
        doc.add_annotation(1, 1, [1, 1, 5, 5])
    with pytest.raises(RuntimeError), keeper.action():
        doc.add_annotation(1, 2, [2, 2, 5, 5])
        doc.add_annotation(1, 2, [3, 3, 5, 5])
        raise RuntimeError("a bug in the middle of a command")
    doc.set_bbox(doc.annotations[0]["id"], [4, 4, 4, 4])  # outside any action: at once
    keeper.detach()
    lines = journal_of(doc).read_bytes().splitlines()[1:]
    payloads = [json.loads(line.split(b" ", 2)[2]) for line in lines]
    assert [p.get("op") for p in payloads] == ["add_annotation", None, "set_bbox"]
    assert [r["op"] for r in payloads[1]["action"]] == ["add_annotation", "add_annotation"]
    assert data(rebuild(journal_of(doc), doc.path, doc.image_root).document) == data(doc)


@pytest.mark.parametrize("inside", ["compact", "save"])
def test_a_compaction_or_a_save_inside_an_action_keeps_every_edit_once(doc, inside):
    """What the action held so far is queued first (in order), then the compaction or the save;
    held past it, the first edit would be replayed onto a snapshot (or file) that has it already."""
    keeper = keeper_of(doc)
    with keeper.action():
        box = doc.add_annotation(1, 1, [1, 1, 5, 5])
        if inside == "compact":
            assert keeper.compact(doc.path).wait(5)
        else:
            keeper.before_save()
            doc.save(doc.path)
            keeper.saved(doc.path, keeper.path)
        doc.set_bbox(box, [2, 2, 6, 6])
    keeper.detach()
    recovered = rebuild(journal_of(doc), doc.path, doc.image_root)
    assert data(recovered.document) == data(doc) and recovered.edits == 1


def test_a_version_1_journal_one_record_a_line_still_replays(doc):
    keeper = keeper_of(doc)
    with keeper.action():
        box = doc.add_annotation(1, 1, [1, 1, 5, 5])
        doc.set_bbox(box, [2, 2, 6, 6])
    keeper.detach()
    header, action = (json.loads(line.split(b" ", 2)[2]) for line in journal_of(doc).read_bytes().splitlines())
    assert header["journal"] == 2
    old = frame({**header, "journal": 1}) + b"".join(frame(r) for r in action["action"])
    journal_of(doc).write_bytes(old)
    assert data(rebuild(journal_of(doc), doc.path, doc.image_root).document) == data(doc)
    journal_of(doc).write_bytes(old[:-3])  # cut inside its last line: that edit alone is lost
    recovered = rebuild(journal_of(doc), doc.path, doc.image_root)
    assert recovered.torn and recovered.edits == 1
