"""ImageList: the row of each path and image id, and each image's status, without Qt."""
from __future__ import annotations

from app.document.entries import STATUS_KEY, STATUSES, ImageEntry, ImageList, size_mismatch
from document_helpers import make_document


def test_rows_by_path_and_image_id(tmp_path):
    doc, images = make_document(tmp_path, labelled=2, unlisted=2)
    assert len(images) == 4 and [e.name for e in images] == ["a0.png", "a1.png", "b0.png", "b1.png"]
    assert images.row_of_path(str(tmp_path / "b1.png")) == 3
    assert images.row_of_path(str(tmp_path / "nope.png")) is None
    assert images.row_of_image(images[1].image_id) == 1
    assert images.has_row(3) and not images.has_row(4) and not images.has_row(-1)


def test_attach_image_id_moves_the_index(tmp_path):
    doc, images = make_document(tmp_path, labelled=1, unlisted=1)
    new_id = doc.add_image(images[1].path, 60, 40)
    images.attach_image_id(1, new_id)
    assert images[1].image_id == new_id and images.row_of_image(new_id) == 1
    images.attach_image_id(1, None)
    assert images[1].image_id is None and images.row_of_image(new_id) is None


def test_status_derived_and_stored(tmp_path):
    doc, images = make_document(tmp_path, labelled=2, unlisted=1)
    assert [images.status(r) for r in range(3)] == ["edited", "unlabelled", "unlabelled"]
    images.set_raw_status(images[1].image_id, "reviewed")
    assert images.status(1) == "reviewed" and doc.image(images[1].image_id)[STATUS_KEY] == "reviewed"
    doc.image(images[0].image_id)[STATUS_KEY] = "bogus"  # another tool's value: derived again
    assert images.status(0) == "edited" and images.raw_status(images[0].image_id) == "bogus"
    images.set_raw_status(images[1].image_id, None)
    assert STATUS_KEY not in doc.image(images[1].image_id) and images.status(1) == "unlabelled"
    assert set(images.status(r) for r in range(3)) <= set(STATUSES)


def test_annotations_of_a_row(tmp_path):
    doc, images = make_document(tmp_path, labelled=2, unlisted=1)
    assert [a["bbox"] for a in images.annotations(0)] == [[10.0, 10.0, 20.0, 20.0]]
    assert images.annotations(1) == [] and images.annotations(2) == []  # 2: no record yet


def test_an_empty_list_has_no_rows():
    images = ImageList()
    assert len(images) == 0 and not images.has_row(0) and images.row_of_path("x") is None


def test_size_mismatch_names_the_file_and_both_sizes(tmp_path):
    doc, images = make_document(tmp_path, labelled=1, unlisted=1)
    entry = images[0]
    assert size_mismatch(entry, doc) is None
    entry.size = (80, 100)  # EXIF-rotated on disk
    assert size_mismatch(entry, doc) == ("a0.png: the file is 80x100 (EXIF orientation applied), "
                                         "the COCO record says 100x80")
    assert size_mismatch(images[1], doc) is None  # no record to compare with
    assert size_mismatch(ImageEntry("p", "p"), doc) is None


def test_review_scores_order_the_rows_unreviewed_last_ties_in_list_order(tmp_path):
    from app.document.image_order import ordered

    doc, images = make_document(tmp_path, labelled=2, unlisted=3)
    for row, score in ((0, 0.2), (1, 0.9), (3, 0.2), (4, 0.5)):
        images.set_review_score(row, score)
    key = lambda r: images[r].review_score
    assert ordered(range(5), key, descending=True) == [1, 4, 0, 3, 2]  # row 2 not reviewed: last
    assert ordered(range(5), key, descending=False) == [0, 3, 4, 1, 2]
    assert images.clear_review_scores() == [0, 1, 3, 4]
    assert [e.review_score for e in images] == [None] * 5 and ordered(range(5), key, True) == list(range(5))
