"""The training-run contract, written and read in one module (detr_core.train.events): every event
survives to_json -> parse_event, broken lines are refused with the reason, unwanted types are
dropped by their type, and an exception becomes an "error" event's kind in one place."""
from __future__ import annotations

import json

import pytest

from detr_core.errors import (CheckpointError, DatasetError, DeviceError, ImageError, NonFiniteLossError,
                              WorkbenchError)
from detr_core.data.summary import DatasetSummary
from detr_core.train.events import (EVENT_TYPES, FAILURE_KINDS, CheckpointSaved, EpochDone, EvalDone, Event,
                                    EventError, RunEnded, RunFailed, RunStarted, RunWarning, StepDone, failure_kind,
                                    parse_event, run_failed)

LOSSES = {"loss_ce": 0.5, "loss_bbox": 0.25, "loss_giou": 0.125}
METRICS = {"AP": 0.5, "AP50": 0.75, "APs": None, "per_class": {"ä": 0.5}}
EVENTS = [
    RunStarted("/runs/r", False, 2, 3, 6, 1, 0, 4, 1, "cpu", 10, 2, ["ä", "b"], {"hidden_dim": 64},
               {"lr": 1e-4}, "random"),
    StepDone(1, 1, 3, 1, 6, 1.5, LOSSES, 1e-4, 1e-5, 3.25, 2.5, 1.0, 5.0),
    EvalDone(1, 3, METRICS, 2, 1.5, 0.75, LOSSES),
    EvalDone(1, 3, METRICS, 2, 1.5),  # without the optional validation loss
    EpochDone(1, 2, 3, 6, 1.25, LOSSES, 9.5, 2.5, 9.5, METRICS),
    CheckpointSaved("/runs/r/checkpoint.pth", 1, 3, "epoch", True),
    RunWarning("training set: 2 boxes clipped to their image"),
    RunEnded("completed", 2, 6, 6, 19.0, None, "/runs/r/checkpoint.pth", "/runs/r/model.pth"),
    RunFailed("data", "/d/a.json: 1 of 4 images are missing", 1, 2, None),
]


def test_every_event_type_reads_back_as_it_was_written():
    assert {type(e) for e in EVENTS} == set(EVENT_TYPES.values())
    for event in EVENTS:
        line = event.to_json()
        assert parse_event(line) == event, line
        assert parse_event(line.encode("utf-8")) == event
        assert type(event).from_dict(json.loads(line)) == event
    assert Event.from_dict({**json.loads(EVENTS[1].to_json()), "added_later": [1]}) == EVENTS[1]


def test_a_non_finite_loss_is_written_as_null_and_read_back_as_none():
    event = StepDone(1, 1, 3, 1, 6, float("nan"), {"loss_ce": float("inf")}, 1e-4, 1e-5, 1.0, 1.0, 1.0, 1.0)
    read = parse_event(event.to_json())
    assert read.loss is None and read.losses == {"loss_ce": None}


@pytest.mark.parametrize("line, reason", [
    ('{"type": "step", "schema": 1, "loss": ', "not JSON"),
    ("[1, 2]", "a JSON list, not an object"),
    ('{"schema": 1}', "no event type"),
    ('{"type": "step", "schema": 1, "time": 1.0, "epoch": 1}', "step event without 'epoch_step'"),
    ('{"type": "warning", "schema": 2, "time": 1.0, "message": "x"}', "schema 2, this version reads schema 1"),
])
def test_a_line_that_breaks_the_contract_is_refused_with_the_reason(line, reason):
    with pytest.raises(EventError, match=reason):
        parse_event(line)


def test_unknown_types_and_skipped_types_give_none_but_a_wrong_type_for_the_class_is_refused():
    assert parse_event('{"type": "from_the_future", "schema": 1, "time": 1.0}') is None
    step_line = EVENTS[1].to_json()
    assert parse_event(step_line, skip=("step",)) is None
    assert parse_event(EVENTS[-1].to_json(), skip=("step",)) == EVENTS[-1]
    # dispatch is on the parsed type, not on how the line is spelled
    respelled = json.dumps(json.loads(step_line), indent=None, separators=(",", ":"), sort_keys=True)
    assert parse_event(respelled, skip=("step",)) is None and parse_event(respelled) == EVENTS[1]
    with pytest.raises(EventError, match="a step event where a end event was expected"):
        RunEnded.from_dict(json.loads(step_line))


def test_the_failure_kind_is_decided_by_the_exception_class_in_one_place():
    class OwnDatasetError(DatasetError):  # a subclass counts as its base, whatever its name
        pass

    cases = [(NonFiniteLossError("nan at step 3"), "non_finite_loss"), (CheckpointError("x.pth: bad"), "checkpoint"),
             (DatasetError("a.json: bad"), "data"), (ImageError("a.png: bad"), "data"),
             (OwnDatasetError("b.json: bad"), "data"), (DeviceError("cuda: none"), "setup"),
             (WorkbenchError("--out: exists"), "setup"), (KeyError("boxes"), "crash"),
             (RuntimeError("CUDA out of memory"), "crash")]
    assert {failure_kind(error) for error, _ in cases} == set(FAILURE_KINDS)
    for error, kind in cases:
        assert failure_kind(error) == kind, error


def test_the_error_event_names_a_crash_s_exception_type():
    crash = run_failed(KeyError("boxes"), 2, 7, "/r/checkpoint.pth")
    assert (crash.kind, crash.message, crash.epoch, crash.step, crash.checkpoint) == (
        "crash", "KeyError: 'boxes'", 2, 7, "/r/checkpoint.pth")
    assert run_failed(ValueError(), 1, 0, None).message == "ValueError"
    assert run_failed(DatasetError("a.json: bad"), 1, 0, None).message == "a.json: bad"


def test_dataset_warnings_are_messages_not_parsed_back_from_printed_lines():
    summary = DatasetSummary("a.json", "images", clipped=2, crowd_ignored=1, warnings=["3 annotations without area"])
    assert summary.warning_messages() == ["1 crowd boxes ignored", "2 boxes clipped to their image",
                                          "3 annotations without area"]
    assert summary.lines("training set")[2:] == [f"  warning: {w}" for w in summary.warning_messages()]
