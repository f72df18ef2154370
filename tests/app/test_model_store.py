"""The Qt-free parts of the model side: predictions kept per image in bounded memory, decisions on
them kept per model and saved beside the document, the weights fingerprint, and how model classes
resolve to dataset classes."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from app.model.class_mapping import EXISTING, IGNORE, NEW, ClassChoice, choices_from_json, choices_to_json, resolve
from app.model.decisions import REJECTED, DecisionBook, sidecar_for
from app.model.fingerprint import fingerprint
from app.model.prediction_store import PredictionStore, compact, detections_bytes
from detr_core.errors import DatasetError
from detr_core.infer.attention_maps import AttentionMaps
from detr_core.infer.detections import Detections


def detections(scores, cells: int = 4) -> Detections:
    Q = len(scores)
    rng = np.random.default_rng(0)
    maps = AttentionMaps(decoder=rng.random((Q, cells, cells), dtype=np.float32),
                         encoder=rng.random((cells * cells, cells, cells), dtype=np.float32),
                         image_size=(128, 128), input_size=(128, 128), stride=32)
    return Detections(image_size=(128, 128), input_size=(128, 128), class_names=["a", "b"],
                      labels=np.arange(Q) % 2, scores=np.asarray(scores, dtype=np.float32),
                      boxes_xyxy=np.tile(np.array([1, 2, 30, 40], np.float32), (Q, 1)),
                      logits=np.zeros((Q, 3), np.float32), boxes_cxcywh=np.zeros((Q, 4), np.float32),
                      attention=maps)


def test_compact_keeps_the_scoring_queries_with_their_indices():
    full = detections([0.001, 0.9, 0.005, 0.3])
    small = compact(full)
    assert small.query.tolist() == [1, 3] and small.attention is None
    assert [d.query for d in small.filter(0.2)] == [1, 3]
    assert detections_bytes(small) < detections_bytes(full)


def test_full_results_are_bounded_by_count_and_bytes():
    store = PredictionStore(full_max_items=3, full_max_bytes=10**9)
    for i in range(5):
        store.put(f"img{i}", "m1", (800, 1333), detections([0.5, 0.8]), keep_full=True)
    assert [store.full(f"img{i}", "m1", (800, 1333)) is not None for i in range(5)] == [False, False, True, True, True]
    assert all(store.get(f"img{i}") is not None for i in range(5))  # compact ones are all kept
    one = detections_bytes(detections([0.5, 0.8], cells=16))
    store = PredictionStore(full_max_items=10, full_max_bytes=int(2.5 * one))
    for i in range(4):
        store.put(f"img{i}", "m1", (800, 1333), detections([0.5, 0.8], cells=16), keep_full=True)
    assert store.full_bytes() <= 2.5 * one and store.full("img3", "m1", (800, 1333)) is not None
    assert store.full("img3", "m2", (800, 1333)) is None  # another model: never reused
    assert store.full("img3", "m1", (640, 1066)) is None  # another input size: never reused


def test_decisions_are_kept_per_model_and_input_size():
    book = DecisionBook()
    book.decide("/d/a.png", "w1", (800, 1333), 0, REJECTED)
    book.decide("/d/a.png", "w1", (800, 1333), 3, 57)
    assert book.of("/d/a.png", "w1", (800, 1333)) == {0: REJECTED, 3: 57}
    assert book.of("/d/a.png", "w2", (800, 1333)) == {}  # another model: nothing decided
    assert book.of("/d/a.png", "w1", (640, 1066)) == {}  # another input size: other boxes
    book.undecide("/d/a.png", "w1", (800, 1333), 0)
    assert book.of("/d/a.png", "w1", (800, 1333)) == {3: 57} and len(book) == 1


def test_decisions_file_round_trips_beside_the_document(tmp_path):
    document = tmp_path / "annotations.json"
    image = str(tmp_path / "images" / "a.png")
    book = DecisionBook()
    book.decide(image, "w1", (800, 1333), 1, REJECTED)
    book.decide(image, "w1", (800, 1333), 2, 10)
    book.decide(image, "w1", (800, 1333), 4, 11)  # its box was deleted before saving
    book.write(document, keep_accepted=lambda path, ann_id: ann_id == 10)
    saved = json.loads(sidecar_for(document).read_text())
    assert saved["decisions"] == [{"image": "images/a.png", "model": "w1", "resolution": [800, 1333],
                                   "accepted": {"2": 10}, "rejected": [1]}]
    again = DecisionBook()
    again.read(document)
    assert again.of(image, "w1", (800, 1333)) == {1: REJECTED, 2: 10}
    # Moved together with its images, the pair still matches.
    moved = tmp_path / "moved"
    moved.mkdir()
    sidecar_for(document).rename(sidecar_for(moved / "annotations.json"))
    again.read(moved / "annotations.json")
    assert again.of(str(moved / "images" / "a.png"), "w1", (800, 1333)) == {1: REJECTED, 2: 10}
    # Nothing left to keep: the file goes.
    DecisionBook().write(moved / "annotations.json", keep_accepted=lambda path, ann_id: True)
    assert not sidecar_for(moved / "annotations.json").exists()


def test_an_unreadable_decisions_file_is_reported_by_name(tmp_path):
    document = tmp_path / "annotations.json"
    book = DecisionBook()
    book.decide("/x.png", "w1", (800, 1333), 1, REJECTED)
    head = b'{"format": "detr-workbench-decisions", '
    for content in (b"{not json", b'{"format": "other"}', head + b'"version": 9}',
                    head + b'"version": 1, "decisions": [{"image": "a"}]}', b"\xff\xfe"):
        sidecar_for(document).write_bytes(content)
        with pytest.raises(DatasetError) as raised:
            book.read(document)
        assert str(sidecar_for(document)) in str(raised.value) and "\n" not in str(raised.value)
        assert len(book) == 0  # nothing half-applied
    book.read(tmp_path / "none.json")  # no file: no decisions, no error
    assert len(book) == 0


def test_fingerprint_names_the_weights_not_the_file():
    from detr_core.model.config import preset
    from detr_core.model.detr import build

    config = preset("tiny", num_classes=2)
    torch.manual_seed(0)
    model = build(config)
    first = fingerprint(model, config, ["a", "b"])
    assert first == fingerprint(copy.deepcopy(model), config, ["a", "b"]) and len(first) == 64
    assert fingerprint(model, config, ["a", "c"]) != first  # other class names
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-3  # one fine-tuning step, say
    assert fingerprint(model, config, ["a", "b"]) != first


def test_classes_resolve_by_name_remembered_choice_or_ask():
    categories = [{"id": 1, "name": "Cat"}, {"id": 2, "name": "animal"}]
    decided, unresolved = resolve(["cat", "dog", "bird"], categories, {"bird": ClassChoice(IGNORE)})
    assert decided == {"cat": ClassChoice(EXISTING, "Cat"), "bird": ClassChoice(IGNORE)}
    assert unresolved == ["dog"]
    decided, unresolved = resolve(["cat", "dog"], [], {})  # a dataset without classes takes the model's
    assert decided == {"cat": ClassChoice(NEW, "cat"), "dog": ClassChoice(NEW, "dog")} and unresolved == []
    stale = {"dog": ClassChoice(EXISTING, "wolf")}  # a remembered class that was deleted: ask again
    assert resolve(["dog"], categories, stale)[1] == ["dog"]
    remembered = {"dog": ClassChoice(EXISTING, "animal"), "x/y": ClassChoice(NEW, "x/y")}
    assert choices_from_json(choices_to_json(remembered)) == remembered
    assert choices_from_json("not json") == {} and choices_from_json('{"a": "bogus"}') == {}
