"""The curves of one run, accumulated from its events (no Qt): what the plots draw.

    curves = RunCurves()
    curves.add(event)              # any detr_core.train.events.Event, live or read from metrics.jsonl
    x, y = curves.arrays("loss")   # NumPy arrays; non-finite losses are NaN (a gap in the line)
    x, y = curves.smoothed("loss") # exponential moving average, debiased (TensorBoard's)

Per step: loss, loss_ce, loss_bbox, loss_giou, lr, lr_backbone (x: optimizer step). Per epoch:
train_loss (the epoch's mean). Per evaluation: val_loss (the validation loss, when the stream
carries it), AP, AP50, AP75 (x: epoch). Every series is a
bounded deque: a very long run keeps its last MAX_POINTS steps. A "start" event of a resumed run
drops what came after the step it resumes from (a run resumed from an earlier checkpoint redoes
those steps).
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from detr_core.train.events import EpochDone, EvalDone, Event, RunStarted, StepDone

STEP_SERIES = ("loss", "loss_ce", "loss_bbox", "loss_giou", "lr", "lr_backbone")
LOSS_TERMS = ("loss_ce", "loss_bbox", "loss_giou")  # class, L1 box, GIoU
EPOCH_SERIES = ("train_loss", "val_loss")
EVAL_SERIES = ("AP", "AP50", "AP75")
SMOOTHED = ("loss", "loss_ce", "loss_bbox", "loss_giou")
MAX_POINTS = 50_000
DEFAULT_SMOOTHING = 0.9


def _value(v) -> float:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.nan


class Series:
    """x and y in two bounded deques."""

    def __init__(self, maxlen: int):
        self.x: deque = deque(maxlen=maxlen)
        self.y: deque = deque(maxlen=maxlen)

    def __len__(self) -> int:
        return len(self.x)

    def append(self, x: float, y: float) -> None:
        self.x.append(x)
        self.y.append(y)

    def drop_after(self, x: float) -> bool:
        dropped = False
        while self.x and self.x[-1] > x:
            self.x.pop()
            self.y.pop()
            dropped = True
        return dropped

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.fromiter(self.x, float, len(self.x)), np.fromiter(self.y, float, len(self.y))


class RunCurves:
    def __init__(self, max_points: int = MAX_POINTS, smoothing: float = DEFAULT_SMOOTHING):
        self.max_points = max_points
        self.smoothing = smoothing
        self.series = {name: Series(max_points) for name in STEP_SERIES + EPOCH_SERIES + EVAL_SERIES}
        self._ema = {name: Series(max_points) for name in SMOOTHED}
        self._ema_state = {name: (0.0, 0) for name in SMOOTHED}  # (biased average, finite points)
        self.version = 0  # changes with every change: the plots redraw when it moved

    def add(self, event: Event) -> None:
        if isinstance(event, StepDone):
            self._add_step(event)
        elif isinstance(event, EpochDone):
            self.series["train_loss"].append(event.epoch, _value(event.loss))
        elif isinstance(event, EvalDone):
            metrics = event.metrics or {}
            for name in EVAL_SERIES:
                self.series[name].append(event.epoch, _value(metrics.get(name)))
            if event.loss is not None:
                self.series["val_loss"].append(event.epoch, _value(event.loss))
        elif isinstance(event, RunStarted):
            self._restart_at(event.start_step, event.start_epoch - 1)
        else:
            return
        self.version += 1

    def _add_step(self, event: StepDone) -> None:
        losses = event.losses or {}
        values = {"loss": event.loss, "lr": event.lr, "lr_backbone": event.lr_backbone,
                  **{k: losses.get(k) for k in LOSS_TERMS}}
        for name, v in values.items():
            self.series[name].append(event.step, _value(v))
        for name in SMOOTHED:
            self._smooth_one(name, event.step, _value(values[name]))

    def _smooth_one(self, name: str, x: float, y: float) -> None:
        if math.isnan(y):
            self._ema[name].append(x, math.nan)
            return
        w = self.smoothing
        average, n = self._ema_state[name]
        average, n = w * average + (1 - w) * y, n + 1
        self._ema_state[name] = (average, n)
        self._ema[name].append(x, average / (1 - w ** n) if w < 1 else y)

    def _restart_at(self, step: int, epochs_done: int) -> None:
        dropped = False
        for name in STEP_SERIES:
            dropped |= self.series[name].drop_after(step)
        for name in EPOCH_SERIES + EVAL_SERIES:
            self.series[name].drop_after(epochs_done)
        if dropped:
            self._resmooth()

    def set_smoothing(self, weight: float) -> None:
        """0 (none) .. 0.999; recomputes every smoothed series."""
        self.smoothing = min(max(float(weight), 0.0), 0.999)
        self._resmooth()
        self.version += 1

    def _resmooth(self) -> None:
        for name in SMOOTHED:
            self._ema[name] = Series(self.max_points)
            self._ema_state[name] = (0.0, 0)
            raw = self.series[name]
            for x, y in zip(raw.x, raw.y):
                self._smooth_one(name, x, y)

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.series[name].arrays()

    def smoothed(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self._ema[name].arrays()

    def count(self, name: str) -> int:
        return len(self.series[name])

    def last(self, name: str) -> float | None:
        s = self.series[name]
        return s.y[-1] if len(s) else None
