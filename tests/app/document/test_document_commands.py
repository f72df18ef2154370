"""Every edit command, without Qt: apply (redo), revert (undo), redo again, merging, refusals.

Each test checks the document against a deep copy taken before the command: undo gives back
exactly what was there."""
from __future__ import annotations

import pytest

from app.document import commands as cmd
from app.document.entries import COLOR_KEY, STATUS_KEY
from detr_core.errors import EditRefused
from document_helpers import snapshot


def round_trip(command, doc):
    """redo, undo, redo; returns the document after the first redo, after undo, after the redo."""
    before = snapshot(doc)
    assert command.redo() and not command.failed
    done = snapshot(doc)
    assert command.undo()
    undone = snapshot(doc)
    assert command.redo()
    assert snapshot(doc) == done
    return before, done, undone


def test_add_boxes_selects_them_and_marks_the_image_edited(target, notes):
    doc, images = target.document, target.images
    image_id = images[1].image_id
    command = cmd.AddBoxesCommand(target, image_id, [(1, [1, 2, 3, 4]), (2, [5, 6, 7, 8])], "Add 2 boxes")
    before, done, undone = round_trip(command, doc)
    assert undone == before
    assert [a["bbox"] for a in doc.annotations_for(image_id)] == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert doc.image(image_id)[STATUS_KEY] == "edited" and images.status(1) == "edited"
    assert notes.selection == command.ids and len(command.ids) == 2
    assert ("image", image_id) in notes.calls and ("reveal", image_id) in notes.calls  # redo again


def test_undo_puts_the_old_status_back(target):
    doc, images = target.document, target.images
    image_id = images[0].image_id
    images.set_raw_status(image_id, "reviewed")
    command = cmd.AddBoxesCommand(target, image_id, [(1, [1, 1, 5, 5])], "Add cat box")
    command.redo()
    assert images.status(0) == "edited"
    command.undo()
    assert images.raw_status(image_id) == "reviewed"


def test_remove_boxes_goes_back_to_its_place_in_the_file(target, notes):
    doc, images = target.document, target.images
    image_id = images[0].image_id
    extra = doc.add_annotation(image_id, 2, [30, 30, 10, 10])
    first = doc.annotations_for(image_id)[0]["id"]
    command = cmd.RemoveBoxesCommand(target, image_id, [first])
    before, done, undone = round_trip(command, doc)
    assert undone["annotations"] == before["annotations"]  # same order, same dicts
    assert [a["id"] for a in done["annotations"]] == [extra]
    assert command.text == "Delete 1 box" and notes.selection == []


def test_set_boxes_and_nudges_merge(target):
    doc, images = target.document, target.images
    image_id = images[0].image_id
    ann = doc.annotations_for(image_id)[0]["id"]
    first = cmd.SetBoxesCommand(target, image_id, {ann: [11, 10, 20, 20]}, "Nudge 1 box", merge=True)
    second = cmd.SetBoxesCommand(target, image_id, {ann: [12, 10, 20, 20]}, "Nudge 1 box", merge=True)
    plain = cmd.SetBoxesCommand(target, image_id, {ann: [0, 0, 5, 5]}, "Move/resize 1 box")
    assert first.merge_id == second.merge_id == cmd.NUDGE_ID and plain.merge_id == -1
    before = snapshot(doc)
    first.redo()
    second.redo()
    assert first.merge_with(second) and doc.annotation(ann)["bbox"] == [12, 10, 20, 20]
    first.undo()  # one undo takes back both nudges
    assert snapshot(doc) == before
    other = cmd.SetBoxesCommand(target, image_id, {ann: [1, 1, 2, 2], 999: [1, 1, 2, 2]}, "x", merge=True)
    assert not first.merge_with(other) and not first.merge_with(plain)  # other boxes: no merge


def test_set_box_category(target, notes):
    doc, images = target.document, target.images
    image_id = images[0].image_id
    ann = doc.annotations_for(image_id)[0]["id"]
    command = cmd.SetBoxCategoryCommand(target, image_id, [ann], 2, "dog")
    before, done, undone = round_trip(command, doc)
    assert undone == before and doc.annotation(ann)["category_id"] == 2
    assert command.text == "Set class to dog" and notes.selection == [ann]


def test_set_status(target):
    doc, images = target.document, target.images
    image_id = images[1].image_id
    command = cmd.SetStatusCommand(target, image_id, "reviewed")
    before, done, undone = round_trip(command, doc)
    assert undone == before and STATUS_KEY not in undone["images"][1]
    assert images.status(1) == "reviewed"


def test_add_image_record_and_take_it_back(target, notes):
    doc, images = target.document, target.images
    command = cmd.AddImageCommand(target, 2, 60, 40)
    before = snapshot(doc)
    assert command.redo()
    image_id = images[2].image_id
    assert image_id is not None and images.row_of_image(image_id) == 2
    assert doc.image(image_id)["width"] == 60 and ("row", 2) in notes.calls
    assert command.undo()
    assert images[2].image_id is None and snapshot(doc) == before
    assert command.redo() and images[2].image_id == image_id  # the same record comes back


def test_class_commands(target, notes):
    doc = target.document
    add = cmd.AddCategoryCommand(target, "bird", "animal")
    before, done, undone = round_trip(add, doc)
    assert undone == before and doc.category(add.category_id)["supercategory"] == "animal"
    assert ("categories",) in notes.calls
    rename = cmd.CategoryFieldCommand(target, 1, doc.rename_category, "kitty", "Rename")
    before, done, undone = round_trip(rename, doc)
    assert undone == before and doc.category(1)["name"] == "kitty"
    colour = cmd.CategoryFieldCommand(target, 2, lambda i, c: cmd.set_category_color(doc, i, c), "#ff0000", "Recolour")
    before, done, undone = round_trip(colour, doc)
    assert COLOR_KEY not in undone["categories"][1] and doc.category(2)[COLOR_KEY] == "#ff0000"


@pytest.mark.parametrize("operation", ["merge", "delete", "keep-as"])
def test_record_commands(target, operation):
    doc = target.document
    ops = {"merge": lambda: doc.merge_categories(1, 2),
           "delete": lambda: doc.remove_category(1, boxes="delete"),
           "keep-as": lambda: doc.remove_category(1, boxes="keep-as", target_id=2)}
    command = cmd.RecordCommand(target, operation, ops[operation])
    before, done, undone = round_trip(command, doc)
    assert undone == before
    assert [c["name"] for c in doc.categories] == ["dog"]
    assert len(doc.annotations) == (0 if operation == "delete" else 1)


def test_a_refused_edit_changes_nothing_and_says_why(target, notes):
    doc, images = target.document, target.images
    ann = doc.annotations_for(images[0].image_id)[0]["id"]
    before = snapshot(doc)
    command = cmd.SetBoxesCommand(target, images[0].image_id, {ann: [0, 0, -5, 5]}, "Move/resize 1 box")
    assert command.redo() is False and command.failed
    assert snapshot(doc) == before and images.raw_status(images[0].image_id) is None
    assert notes.said() == ["Move/resize 1 box: not applied (bbox [0, 0, -5, 5] has a negative width or height)"]
    taken = cmd.AddCategoryCommand(target, "dog")
    assert taken.redo() is False and "already exists" in notes.said()[-1]
    assert snapshot(doc) == before


def test_a_bug_is_not_an_edit_refused(target):
    """An unknown annotation id is the program's mistake: it propagates, it is not "not applied"."""
    command = cmd.RemoveBoxesCommand(target, target.images[0].image_id, [12345])
    with pytest.raises(KeyError):
        command.redo()
    assert not command.failed


def test_edit_refused_is_a_value_error_and_a_dataset_error():
    from detr_core.errors import DatasetError
    assert issubclass(EditRefused, ValueError) and issubclass(EditRefused, DatasetError)
