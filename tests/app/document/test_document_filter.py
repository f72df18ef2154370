"""The list filter: over plain values, and over an ImageList."""
from __future__ import annotations

from app.document.image_filter import ERROR, ImageFilter, matches
from document_helpers import make_document


def test_inactive_filter_accepts_everything():
    f = ImageFilter()
    assert not f.is_active() and f.accepts("x.png", "broken", "edited", {1})


def test_accepts_plain_values():
    assert ImageFilter(text="CAT").accepts("a/cat_01.png", None)
    assert not ImageFilter(text="dog").accepts("a/cat_01.png", None)
    assert ImageFilter(status="reviewed").accepts("x", None, "reviewed")
    assert not ImageFilter(status="reviewed").accepts("x", None, "edited")
    assert ImageFilter(status=ERROR).accepts("x", "cannot decode")
    assert not ImageFilter(status=ERROR).accepts("x", None)
    assert ImageFilter(category_id=2).accepts("x", None, category_ids={1, 2})
    assert not ImageFilter(category_id=3).accepts("x", None, category_ids={1, 2})
    both = ImageFilter(status="edited", category_id=1, text="x")
    assert both.accepts("x", None, "edited", {1}) and not both.accepts("x", None, "edited", {2})


def test_matches_reads_the_image_list(tmp_path):
    doc, images = make_document(tmp_path, labelled=2, unlisted=2)
    images[3].error = "b1.png: cannot decode"
    images.set_raw_status(images[1].image_id, "reviewed")

    def rows(f):
        return [r for r in range(len(images)) if matches(f, images, r)]

    assert rows(ImageFilter()) == [0, 1, 2, 3]
    assert rows(ImageFilter(status="edited")) == [0]
    assert rows(ImageFilter(status="reviewed")) == [1]
    assert rows(ImageFilter(status="unlabelled")) == [2, 3]
    assert rows(ImageFilter(status=ERROR)) == [3]
    assert rows(ImageFilter(category_id=1)) == [0]
    assert rows(ImageFilter(category_id=2)) == []
    assert rows(ImageFilter(text="b")) == [2, 3]


def test_the_name_is_tested_before_the_document(tmp_path):
    doc, images = make_document(tmp_path, labelled=1, unlisted=0)
    images[0].image_id = 999  # not in the document: a look-up would raise KeyError
    assert not matches(ImageFilter(status="edited", text="zzz"), images, 0)
