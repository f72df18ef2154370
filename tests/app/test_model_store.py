"""The Qt-free parts of the model side: predictions kept per image in bounded memory, and how model
classes resolve to dataset classes."""
from __future__ import annotations

import numpy as np

from app.model.class_mapping import EXISTING, IGNORE, NEW, ClassChoice, choices_from_json, choices_to_json, resolve
from app.model.prediction_store import REJECTED, PredictionStore, compact, detections_bytes
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


def test_marks_survive_a_rerun_of_the_same_model_only():
    store = PredictionStore()
    store.put("a", "m1", (800, 1333), detections([0.9]))
    store.mark("a", 0, REJECTED)
    store.put("a", "m1", (800, 1333), detections([0.9]))
    assert store.marks_of("a") == {0: REJECTED}
    store.put("a", "m2", (800, 1333), detections([0.9]))
    assert store.marks_of("a") == {}


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
