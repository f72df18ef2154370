"""Training events: what a run reports, as frozen dataclasses and as JSON lines.

`engine.train(..., on_event=...)` calls `on_event(event)` with the events below. The `train` CLI
writes each one as a line of JSON to `RUN_DIR/metrics.jsonl` (appended across resumes) and, with
`--jsonl`, to stdout (nothing else is printed on stdout then). This stream is the contract the
workbench's live curves read; it only grows by new optional fields or new event types, and any
incompatible change increments SCHEMA.

Every line is an object with
    "type"    "start" | "step" | "eval" | "epoch" | "checkpoint" | "warning" | "end" | "error"
    "schema"  1
    "time"    Unix time in seconds (float) when the event was made
Counting: "epoch" is 1-based (the epoch in progress or just finished, of "epochs"); "step" is the
number of optimizer steps done so far in the whole run (1-based, continues across resumes), of
"total_steps" = epochs x steps_per_epoch (with a time budget: its planned steps once fitted; the
last epoch may end part-way). Losses are floats, means over all processes; a non-finite value is
written as null. Times are seconds.

  start       run_dir, resumed, epochs, steps_per_epoch, total_steps, start_epoch, start_step,
              batch_size (images per optimizer step, all processes), world_size, device,
              train_images, val_images, class_names, model_config, train_config, base (what the
              weights started from); optional: recipe (lines: what was chosen and why),
              time_budget_s (seconds, or null)
  step        epoch, epoch_step, steps_per_epoch, step, total_steps, loss, losses {loss_ce,
              loss_bbox, loss_giou, their auxiliary loss_ce_0.., class_error, cardinality_error},
              lr, lr_backbone, grad_norm (before clipping), images_per_s, elapsed_s, eta_s;
              optional: plan (time budget: one line, on a step after which the steps were fitted)
  eval        epoch, step, metrics {AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm,
              ARl: float or null; per_class: {name: AP or null}}, images, duration_s,
              loss, losses (validation loss and its terms, as in "step", mean over the validation
              images in evaluation mode without augmentation; optional: absent in older files)
  epoch       epoch, epochs, step, total_steps, loss, losses (means over the epoch's steps),
              duration_s, images_per_s, eta_s, metrics (the eval of this epoch, or null)
  checkpoint  path, epoch, step, reason ("epoch" | "final" | "stopped"), resumable
  warning     message
  end         status ("completed" | "stopped"), epoch, step, total_steps, elapsed_s, metrics (last
              evaluation or null), checkpoint (resumable checkpoint), model (final weights or null)
  error       kind ("non_finite_loss" | "checkpoint" | "data" | "setup" | "crash"), message, epoch,
              step, checkpoint (the last good checkpoint, or null)
A run ends with exactly one "end" or "error" line (unless killed with SIGKILL).

The contract is written and read here: `event.to_json()` writes a line, `parse_event(line)` (or
`Event.from_dict(obj)`) reads one back into the same typed event, and `failure_kind(error)` is
the one place where an exception becomes an "error" event's kind.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Collection

from ..errors import CheckpointError, DatasetError, ImageError, NonFiniteLossError, WorkbenchError

SCHEMA = 1
FAILURE_KINDS = ("non_finite_loss", "checkpoint", "data", "setup", "crash")


class EventError(ValueError):
    """A line that claims to be an event but breaks the contract; the message says how."""


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats -> None, tuples -> lists, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class Event:
    TYPE: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "time"}
        return {"type": self.TYPE, "schema": SCHEMA, "time": self.time, **_clean(fields)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> "Event | None":
        """The typed event of one decoded line, as `to_dict` wrote it. None for an event type this
        version does not know (the contract may add types). Called on a subclass, the line must be
        of that type. Raises EventError for a missing type, another schema or a missing field;
        unknown (newer, optional) fields are ignored."""
        kind = obj.get("type")
        if not isinstance(kind, str):
            raise EventError("no event type")
        event_cls = EVENT_TYPES.get(kind)
        if event_cls is None:
            return None
        if cls is not Event and event_cls is not cls:
            raise EventError(f"a {kind} event where a {cls.TYPE} event was expected")
        if obj.get("schema") != SCHEMA:
            raise EventError(f"schema {obj.get('schema')!r}, this version reads schema {SCHEMA}")
        values = {}
        for f in dataclasses.fields(event_cls):
            if f.name in obj:
                values[f.name] = obj[f.name]
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise EventError(f"{kind} event without {f.name!r}")
        return event_cls(**values)


def _now() -> float:
    return round(time.time(), 3)


@dataclass(frozen=True)
class RunStarted(Event):
    TYPE: ClassVar[str] = "start"
    run_dir: str | None
    resumed: bool
    epochs: int
    steps_per_epoch: int
    total_steps: int
    start_epoch: int  # 1-based epoch the run (re)starts in
    start_step: int  # optimizer steps already done (0 for a new run)
    batch_size: int
    world_size: int
    device: str
    train_images: int
    val_images: int
    class_names: list
    model_config: dict
    train_config: dict
    base: str
    recipe: list | None = None  # lines: what the small-data recipe chose and why (train/recipe.py)
    time_budget_s: float | None = None  # --time-budget: steps are fitted into it (train/budget.py)
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class StepDone(Event):
    TYPE: ClassVar[str] = "step"
    epoch: int
    epoch_step: int
    steps_per_epoch: int
    step: int
    total_steps: int
    loss: float
    losses: dict
    lr: float
    lr_backbone: float
    grad_norm: float
    images_per_s: float
    elapsed_s: float
    eta_s: float
    plan: str | None = None  # time budget: set on the steps after which steps were (re)fitted
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class EvalDone(Event):
    TYPE: ClassVar[str] = "eval"
    epoch: int
    step: int
    metrics: dict
    images: int
    duration_s: float
    loss: float | None = None
    losses: dict | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class EpochDone(Event):
    TYPE: ClassVar[str] = "epoch"
    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float
    losses: dict
    duration_s: float
    images_per_s: float
    eta_s: float
    metrics: dict | None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class CheckpointSaved(Event):
    TYPE: ClassVar[str] = "checkpoint"
    path: str
    epoch: int
    step: int
    reason: str  # "epoch" | "final" | "stopped"
    resumable: bool
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RunWarning(Event):
    TYPE: ClassVar[str] = "warning"
    message: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RunEnded(Event):
    TYPE: ClassVar[str] = "end"
    status: str  # "completed" | "stopped"
    epoch: int
    step: int
    total_steps: int
    elapsed_s: float
    metrics: dict | None
    checkpoint: str | None
    model: str | None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RunFailed(Event):
    TYPE: ClassVar[str] = "error"
    kind: str  # "non_finite_loss" | "checkpoint" | "data" | "setup" | "crash"
    message: str
    epoch: int
    step: int
    checkpoint: str | None
    time: float = field(default_factory=_now)


EVENT_TYPES = {cls.TYPE: cls for cls in (RunStarted, StepDone, EvalDone, EpochDone, CheckpointSaved,
                                         RunWarning, RunEnded, RunFailed)}


def parse_event(line: str | bytes, *, skip: Collection[str] = ()) -> Event | None:
    """One line of the stream -> its typed event (the inverse of `Event.to_json`). None for an
    event type this version does not know, or one of the types in `skip` (the run list reads a
    long run's file without building its thousands of "step" events: the line is still parsed,
    and dispatched on its type). Raises EventError for a line that is not a JSON object or breaks
    the contract (see `Event.from_dict`)."""
    try:
        obj = json.loads(line)
    except ValueError:
        raise EventError("not JSON") from None
    if not isinstance(obj, dict):
        raise EventError(f"a JSON {type(obj).__name__}, not an object")
    if obj.get("type") in skip:
        return None
    return Event.from_dict(obj)


def failure_kind(error: BaseException) -> str:
    """The kind of an "error" event for the exception that ended a run, decided in one place:
    non_finite_loss, checkpoint, data (a bad annotation file or image), setup (any other problem
    with the user's input: device, run folder, options) or crash (a bug: anything else)."""
    if isinstance(error, NonFiniteLossError):
        return "non_finite_loss"
    if isinstance(error, CheckpointError):
        return "checkpoint"
    if isinstance(error, (DatasetError, ImageError)):
        return "data"
    if isinstance(error, WorkbenchError):
        return "setup"
    return "crash"


def run_failed(error: BaseException, epoch: int, step: int, checkpoint: str | None) -> RunFailed:
    """The "error" event for `error`: its kind, and a one-line message (a crash names the
    exception's type, since its text alone may say nothing)."""
    kind = failure_kind(error)
    message = str(error) or type(error).__name__
    if kind == "crash" and not message.startswith(type(error).__name__):
        message = f"{type(error).__name__}: {message}"
    return RunFailed(kind, message, epoch, step, checkpoint)
