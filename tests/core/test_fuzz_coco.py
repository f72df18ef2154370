"""Fuzzing the COCO loader: mutated valid files either load or are refused with one line naming the
file (a WorkbenchError), never another exception, never a hang, and loading writes nothing.

Mutations, one to four per file, on a valid three-image file whose images exist: a value replaced by
one of another type (None, bools, huge or negative integers, NaN, Infinity, unicode and path-like
strings, nested lists and objects), a key deleted or renamed, a list element duplicated (duplicate
ids) or a foreign one inserted; then the text may be cut short, have bytes flipped, have a number
replaced by thousands of digits, nesting thousands deep, or a BOM / bad UTF-8 byte. Each file goes
through `CocoDocument.load` and then the training loader (`load_detection_dataset`, two samples).
"""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, strategies as st
from PIL import Image

from detr_core.coco import CocoDocument
from detr_core.errors import DatasetError

from test_fuzz_helpers import check_answer, folder_listing, fuzz_settings, shared_worker

SIZES = {"a.png": (16, 12), "b.png": (12, 16), "sub/c.png": (20, 10)}


def valid_coco() -> dict:
    return {
        "info": {"description": "fuzz seed", "version": "1.0"},
        "images": [{"id": 1, "file_name": "a.png", "width": 16, "height": 12},
                   {"id": 2, "file_name": "b.png", "width": 12, "height": 16},
                   {"id": 3, "file_name": "sub/c.png"}],  # no size: read from the file
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 4], "area": 20, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [0.5, 2.25, 6, 8]},
            {"id": 3, "image_id": 3, "category_id": 1, "bbox": [3, 3, 10, 5], "area": 50, "iscrowd": 0,
             "segmentation": [[3, 3, 13, 3, 13, 8]]},
        ],
        "categories": [{"id": 1, "name": "cat", "supercategory": "animal"}, {"id": 2, "name": "dög"}],
    }


def _paths(node, prefix=()):
    """Every path (tuple of keys / indices) into the JSON tree, the root included."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


SEED_PATHS = list(_paths(valid_coco()))

odd_strings = st.sampled_from(["", " ", "1", "NaN", "a.png", "../../../etc/passwd", "/abs/a.png", "a.png\x00x",
                               "\u202e\u0301", "🐈" * 50, "x" * 5000, "C:\\a.png", "images/../a.png"])
odd_numbers = st.sampled_from([0, -1, 2**31, 2**63, -2**63, 10**30, 10**400, 1e308, -0.0, 1e-320,
                               math.nan, math.inf, -math.inf])
leaf = (st.none() | st.booleans() | st.integers(min_value=-10**20, max_value=10**20) | odd_numbers
        | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20) | odd_strings)
json_value = st.recursive(leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=8) | st.sampled_from(["id", "bbox", "file_name"]),
                                            inner, max_size=4), max_leaves=8)


def _parent(data, path):
    for key in path[:-1]:
        data = data[key]
    return data


@st.composite
def mutated(draw) -> dict:
    data = valid_coco()
    for _ in range(draw(st.integers(1, 4))):
        live = [p for p in _paths(data) if p in set(SEED_PATHS) or len(p) <= 3]
        path = draw(st.sampled_from(live))
        op = draw(st.sampled_from(["replace", "replace", "delete", "rename", "duplicate", "insert"]))
        if not path:  # the root
            data = draw(json_value) if op == "replace" else data
            continue
        parent, key = _parent(data, path), path[-1]
        if not isinstance(parent, (dict, list)):
            continue
        if op == "replace":
            parent[key] = draw(json_value)
        elif op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["ID", "id ", "bbox", "file_name", "Id", "\u0456d"]))] = parent.pop(key)
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), json.loads(json.dumps(parent[key])))
        elif op == "insert" and isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), draw(json_value))
        if not isinstance(data, dict):
            break
    return data


@st.composite
def coco_bytes(draw) -> bytes:
    data = draw(st.one_of(st.just(valid_coco()), mutated()))
    indent = draw(st.sampled_from([None, 2, "\t"]))
    text = json.dumps(data, indent=indent, ensure_ascii=draw(st.booleans()), allow_nan=True)
    raw = text.encode("utf-8")
    for _ in range(draw(st.integers(0, 2))):
        how = draw(st.sampled_from(["truncate", "flip", "digits", "nest", "bom", "bad-utf8", "none"]))
        if how == "truncate" and raw:
            raw = raw[:draw(st.integers(0, len(raw) - 1))]
        elif how == "flip" and raw:
            at = draw(st.integers(0, len(raw) - 1))
            raw = raw[:at] + bytes([raw[at] ^ (1 << draw(st.integers(0, 7)))]) + raw[at + 1:]
        elif how == "digits":  # a number with thousands of digits where a small one was
            raw = raw.replace(b'"id": 1', b'"id": 1' + b"7" * draw(st.integers(10, 6000)), 1)
        elif how == "nest":
            depth = draw(st.integers(100, 100_000))
            raw = raw.replace(b'"info": {', b'"info": ' + b"[" * depth + b"]" * depth + b', "x": {', 1)
        elif how == "bom":
            raw = b"\xef\xbb\xbf" + raw
        elif how == "bad-utf8" and raw:
            at = draw(st.integers(0, len(raw) - 1))
            raw = raw[:at] + b"\xff\xfe" + raw[at:]
    return raw


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz coco") / "données ü"
    for name, size in SIZES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (90, 160, 30)).save(root / name)
    return root


@pytest.fixture(scope="module")
def worker():
    w = shared_worker()
    yield w
    print("\n" + w.summary("coco"))


def test_the_seed_file_loads(folder):
    path = folder / "seed.json"
    path.write_text(json.dumps(valid_coco()))
    doc, report = CocoDocument.load(path)
    assert len(doc.annotations) == 3 and doc.images[2]["width"] == 20 and not report.problems


@fuzz_settings(150)
@given(raw=coco_bytes())
@pytest.mark.slow
def test_mutated_coco_files_load_or_are_refused_in_one_line(folder, worker, raw):
    path = folder / "annotations.json"
    path.write_bytes(raw)
    before = folder_listing(folder)
    check_answer(worker.load("coco", path), path)
    assert folder_listing(folder) == before, "loading changed files in the folder"


# Regressions: examples the fuzzer found, kept as plain tests (fixed in detr_core/coco/io.py).

def test_a_number_with_thousands_of_digits_is_refused_in_one_line(tmp_path):
    path = tmp_path / "big.json"
    path.write_text('{"images": [{"id": 1' + "7" * 5000 + ', "file_name": "a.png"}], "annotations": [], '
                    '"categories": []}')
    with pytest.raises(DatasetError, match="number with too many digits") as info:
        CocoDocument.load(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
