"""Reading run folders for the history (no Qt): what a run was, how it ended, its curves.

A run folder holds what `detr-workbench train` writes (metrics.jsonl, run.json, checkpoint.pth,
model.pth, best.pth) and what the workbench adds: data/ (the snapshot it trained on) and, while a
job continues in the background after the window closed, detached.json (its process id).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from detr_core.train.events import CheckpointSaved, EpochDone, EvalDone, RunEnded, RunFailed, RunStarted, StepDone
from detr_core.train.run_names import BEST, CHECKPOINT, METRICS, MODEL

from .curves import RunCurves
from .jsonl import JsonLinesParser

DETACHED = "detached.json"


@dataclass
class RunRecord:
    run_dir: Path
    status: str = "empty"  # completed | stopped | failed | incomplete | running | empty
    message: str = ""  # why it failed
    epochs: int | None = None
    epoch: int = 0
    step: int = 0
    total_steps: int = 0
    started: float | None = None  # time of its first start
    ended: float | None = None
    metrics: dict | None = None  # the last evaluation
    final_loss: float | None = None  # the last epoch's mean loss
    base: str = ""
    device: str = ""  # where it last ran ("cpu", "cuda:0", ...)
    world_size: int = 1  # processes (torchrun)
    train_images: int = 0
    val_images: int = 0
    curves: RunCurves = field(default_factory=RunCurves)
    complete: bool = True  # False: read for the list only (no per-step curves)

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def model_path(self) -> Path | None:
        """The weights "use this model" loads: the final ones, else the last checkpoint."""
        for name in (MODEL, CHECKPOINT):
            if (self.run_dir / name).is_file():
                return self.run_dir / name
        return None

    @property
    def best_path(self) -> Path | None:
        path = self.run_dir / BEST
        return path if path.is_file() else None

    @property
    def resumable(self) -> bool:
        return (self.run_dir / CHECKPOINT).is_file() and self.status in ("stopped", "failed", "incomplete")


def apply_event(record: RunRecord, event) -> None:
    """Update `record` (and its curves) with one event of its stream."""
    record.curves.add(event)
    if isinstance(event, RunStarted):
        record.started = record.started or event.time
        record.status, record.message, record.ended = "incomplete", "", None
        record.epochs, record.total_steps, record.base = event.epochs, event.total_steps, event.base
        record.train_images, record.val_images = event.train_images, event.val_images
        record.device, record.world_size = event.device, event.world_size
        record.step = event.start_step
    elif isinstance(event, StepDone):
        record.step, record.epoch, record.total_steps = event.step, event.epoch, event.total_steps
    elif isinstance(event, EpochDone):
        record.final_loss, record.epoch = event.loss, event.epoch
        record.step, record.total_steps = event.step, event.total_steps
    elif isinstance(event, EvalDone):
        record.metrics = event.metrics
    elif isinstance(event, CheckpointSaved):
        record.epoch = event.epoch
    elif isinstance(event, RunEnded):
        record.status, record.ended, record.step = event.status, event.time, event.step
        record.metrics = event.metrics if event.metrics is not None else record.metrics
    elif isinstance(event, RunFailed):
        record.status, record.message, record.ended = "failed", event.message, event.time


def read_run(run_dir: str | os.PathLike, steps: bool = True) -> RunRecord:
    """The record of a run folder, from its metrics.jsonl (a missing or cut file gives what is
    there; lines that are not events are skipped). `steps=False`: no "step" events (most of a
    long run's file; each line is still parsed, and dropped by its type), enough for the list; the
    record says it is not `complete`."""
    record = RunRecord(Path(run_dir), complete=steps)
    parser = JsonLinesParser(skip=() if steps else ("step",))
    try:
        raw = (record.run_dir / METRICS).read_bytes()
    except FileNotFoundError:
        return record
    for item in parser.feed(raw) + parser.finish():
        if not isinstance(item, str):
            apply_event(record, item)
    if record.status == "incomplete" and detached_pid(record.run_dir) is not None:
        record.status = "running"
    return record


def is_run_dir(path: Path) -> bool:
    return (path / METRICS).is_file() or (path / "run.json").is_file()


def write_detached(run_dir: Path, pid: int) -> None:
    (run_dir / DETACHED).write_text(json.dumps({"pid": pid}), encoding="utf-8")


def detached_pid(run_dir: Path) -> int | None:
    """The process id of a job left running in the background, while it is alive."""
    try:
        pid = int(json.loads((run_dir / DETACHED).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, someone else's
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:  # Linux: make sure the id was not reused by another program
        if b"detr_core" not in cmdline.read_bytes():
            return None
    except OSError:
        pass
    return pid
