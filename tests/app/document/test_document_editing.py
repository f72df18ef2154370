"""AnnotationEditor over the session's real undo stack (app/commands.py's ActionStack, a
QUndoStack), without a window or a QApplication: every macro is one undo step, refusals leave no
step, and each step (its push, undo, redo) is one frame of the edit journal."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from app.commands import ActionStack, UndoStackHistory
from app.document.editing import BUSY_MESSAGE, AnnotationEditor
from app.document.entries import ImageEntry, ImageList
from app.document.journalling import JournalKeeper
from app.document.replay import rebuild
from document_helpers import make_document, snapshot


@pytest.fixture
def setup(tmp_path, notes):
    doc, images = make_document(tmp_path)
    stack = ActionStack()
    editor = AnnotationEditor(UndoStackHistory(stack), notes)
    editor.reset(doc, images)
    return editor, stack, doc, images


def first_box(doc, images, row=0) -> int:
    return doc.annotations_for(images[row].image_id)[0]["id"]


def test_each_step_of_the_undo_stack_is_one_journal_frame(setup, tmp_path):
    """A box moved and its image marked edited; a macro (an image's record, its box, its status);
    its undo, its redo; setIndex back over both: each one line holding all of its changes."""
    editor, stack, doc, images = setup
    keeper, journal = JournalKeeper(), tmp_path / "annotations.json.journal"
    stack.actions = keeper  # as the session sets it
    keeper.attach(doc, journal, tmp_path / "annotations.json")

    def frames() -> list[dict]:
        assert keeper.journal.written()
        return [json.loads(line.split(b" ", 2)[2]) for line in journal.read_bytes().splitlines()[1:]]

    editor.set_bboxes(0, {first_box(doc, images): [1, 1, 9, 9]})
    assert [[r["op"] for r in f["action"]] for f in frames()] == [["set_bbox", "set_image_field"]]
    editor.add_boxes(2, [(2, [1, 2, 3, 4])])
    assert [r["op"] for r in frames()[-1]["action"]] == ["add_image", "add_annotation", "set_image_field"]
    for step, count in ((stack.undo, 3), (stack.redo, 4), (lambda: stack.setIndex(0), 5)):
        step()
        assert len(frames()) == count and len(frames()[-1]["action"]) >= 2
    keeper.detach()
    assert rebuild(journal, tmp_path / "annotations.json", tmp_path).document.data == doc.data


def test_reset_takes_the_first_class(setup):
    editor, stack, doc, images = setup
    assert editor.last_category_id == 1 and editor.document is doc and editor.images is images
    editor.reset(None, ImageList())
    assert editor.last_category_id is None and not editor.has_category(1)


def test_a_box_of_a_new_class_is_one_step(setup):
    editor, stack, doc, images = setup
    before = snapshot(doc)
    ann = editor.add_box_with_new_category(1, [1, 1, 5, 5], " bird ")
    assert ann is not None and doc.category(doc.annotation(ann)["category_id"])["name"] == "bird"
    assert stack.count() == 1 and stack.text(0) == "Add bird box"
    stack.undo()
    assert snapshot(doc) == before
    stack.redo()
    assert doc.category_by_name("bird") is not None and len(doc.annotations_for(images[1].image_id)) == 1


def test_the_first_edit_of_a_listed_file_adds_its_record_in_the_same_step(setup):
    editor, stack, doc, images = setup
    before = snapshot(doc)
    ids = editor.add_boxes(2, [(2, [1.234, 2, 3, 4])])
    assert len(ids) == 1 and images[2].image_id is not None
    assert doc.annotation(ids[0])["bbox"] == [1.23, 2, 3, 4]  # tidied to 1/100 pixel
    assert stack.count() == 1 and stack.text(0) == "Add dog box" and editor.last_category_id == 2
    stack.undo()
    assert images[2].image_id is None and snapshot(doc) == before
    editor.set_status(2, "reviewed")
    assert stack.count() == 1 and images.status(2) == "reviewed"  # the undone step was replaced
    stack.undo()
    assert snapshot(doc) == before


def test_the_size_comes_from_the_file_header_when_not_decoded_yet(tmp_path, setup, notes):
    editor, stack, doc, images = setup
    Image.new("RGB", (33, 22)).save(tmp_path / "c.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    images.entries.append(ImageEntry(str(tmp_path / "c.png"), "c.png"))
    images.entries.append(ImageEntry(str(tmp_path / "broken.png"), "broken.png"))
    listed = ImageList(doc, images.entries)  # re-index the two new rows
    editor.reset(doc, listed)
    editor.set_status(3, "reviewed")
    assert doc.image(listed[3].image_id)["width"] == 33 and doc.image(listed[3].image_id)["height"] == 22
    count = stack.count()
    editor.set_status(4, "reviewed")
    assert stack.count() == count and listed[4].image_id is None
    assert "broken.png" in notes.said()[-1]


def test_nested_steps_join_the_outer_one(setup):
    editor, stack, doc, images = setup
    before = snapshot(doc)
    with editor.undo_step("Accept 2 predictions"):
        bird = editor.add_category("bird")
        with editor.undo_step("inner"):
            editor.add_boxes(2, [(bird, [1, 1, 4, 4]), (1, [2, 2, 4, 4])])
        editor.set_status(2, "predicted")
    assert stack.count() == 1 and stack.text(0) == "Accept 2 predictions"
    assert images.status(2) == "predicted"
    stack.undo()
    assert snapshot(doc) == before and images[2].image_id is None


def test_an_exception_inside_a_step_still_ends_it(setup):
    editor, stack, doc, images = setup
    with pytest.raises(RuntimeError):
        with editor.undo_step("Half done"):
            editor.add_category("bird")
            raise RuntimeError("a bug in the caller")
    assert stack.canUndo() and stack.count() == 1  # the step is closed: it can be undone
    editor.add_category("fish")
    assert stack.count() == 2


def test_while_saving_edits_are_refused_and_no_step_is_left(setup, notes):
    editor, stack, doc, images = setup
    before = snapshot(doc)
    editor.busy = True
    assert editor.add_boxes(0, [(1, [1, 1, 4, 4])]) == []
    assert notes.said()[-1] == BUSY_MESSAGE and ("image", images[0].image_id) in notes.calls
    assert editor.add_boxes(2, [(1, [1, 1, 4, 4])]) == []  # would need a record first
    with editor.undo_step("Set class to bird"):
        assert editor.add_category("bird") is None
    assert editor.add_box_with_new_category(0, [1, 1, 4, 4], "fish") is None
    assert stack.count() == 0 and snapshot(doc) == before
    editor.busy = False
    assert editor.add_category("bird") is not None


def test_a_refused_edit_leaves_no_step_and_says_why(setup, notes):
    editor, stack, doc, images = setup
    before = snapshot(doc)
    editor.set_bboxes(0, {first_box(doc, images): [0, 0, -5, 5]})
    assert stack.count() == 0 and snapshot(doc) == before
    assert notes.said() == ["Move/resize 1 box: not applied "
                            "(bbox [0.0, 0.0, -5.0, 5.0] has a negative width or height)"]


def test_nudges_stop_at_the_border_and_merge_into_one_step(setup):
    editor, stack, doc, images = setup
    ann = first_box(doc, images)  # [10, 10, 20, 20] on a 100x80 image
    editor.nudge(0, [ann], -50, 0)
    assert doc.annotation(ann)["bbox"] == [0, 10, 20, 20]
    editor.nudge(0, [ann], -1, 0)  # already at the border: nothing to do
    editor.nudge(0, [ann], 1, 100)
    assert doc.annotation(ann)["bbox"] == [1, 60, 20, 20]
    assert stack.count() == 1 and stack.text(0) == "Nudge 1 box"
    stack.undo()
    assert doc.annotation(ann)["bbox"] == [10, 10, 20, 20]
    editor.set_bboxes(0, {ann: [5, 5, 10, 10]})
    editor.set_bboxes(0, {ann: [6, 5, 10, 10]})
    assert stack.count() == 2  # moves by the mouse do not merge


def test_duplicates_stay_inside_the_image_and_get_selected(setup, notes):
    editor, stack, doc, images = setup
    corner = doc.add_annotation(images[0].image_id, 2, [85, 65, 10, 10])
    editor.duplicate_boxes(0, [corner, first_box(doc, images)])
    copies = doc.annotations_for(images[0].image_id)[2:]
    assert [(a["category_id"], a["bbox"]) for a in copies] == [(1, [20, 20, 20, 20]), (2, [90, 70, 10, 10])]
    assert notes.selection == [a["id"] for a in copies] and stack.text(0) == "Duplicate 2 boxes"


def test_delete_and_class_of_boxes(setup, notes):
    editor, stack, doc, images = setup
    ann = first_box(doc, images)
    editor.set_boxes_category_number(0, [ann], 5)
    assert notes.said()[-1] == "There is no class 5; the document has 2." and stack.count() == 0
    editor.set_boxes_category(0, [], 2)
    assert notes.said()[-1] == "Select a box first."
    editor.set_boxes_category_number(0, [ann], 2)
    assert doc.annotation(ann)["category_id"] == 2 and editor.last_category_id == 2
    editor.delete_boxes(0, [ann])
    assert doc.annotations_for(images[0].image_id) == [] and stack.text(1) == "Delete 1 box"
    stack.undo()
    stack.undo()
    assert doc.annotation(ann)["category_id"] == 1


def test_class_names_are_checked_before_the_document_is_asked(setup, notes):
    editor, stack, doc, images = setup
    assert editor.add_category("   ") is None and notes.said()[-1] == "A class needs a name."
    assert editor.add_category("cat") is None and notes.said()[-1] == "There is already a class called cat."
    editor.rename_category(1, "dog")
    assert notes.said()[-1] == "There is already a class called dog." and stack.count() == 0
    editor.rename_category(1, " kitty ")
    assert doc.category(1)["name"] == "kitty" and stack.text(0) == "Rename class cat to kitty"


def test_class_edits_each_one_step(setup):
    editor, stack, doc, images = setup
    before = snapshot(doc)
    editor.set_supercategory(1, " animal ")
    editor.set_category_color(2, "#00ff00")
    editor.merge_categories(2, 2)  # into itself: nothing
    editor.merge_categories(1, 2)
    editor.remove_category(2, boxes="delete")
    assert [stack.text(i) for i in range(stack.count())] == [
        "Set supercategory of cat", "Recolour class dog", "Merge class cat into dog", "Delete class dog"]
    assert doc.categories == [] and doc.annotations == []
    for _ in range(4):
        stack.undo()
    assert snapshot(doc) == before


def test_status_set_twice_is_one_step(setup):
    editor, stack, doc, images = setup
    editor.set_status(1, "reviewed")
    editor.set_status(1, "reviewed")
    editor.set_status(99, "reviewed")  # no such row
    assert stack.count() == 1 and images.status(1) == "reviewed"
