"""A run's curves read in plain words, and what holds it back, from its event stream.

    reader = CurveReader()
    for event in events: reader.add(event)        # StepDone, EpochDone, EvalDone; others ignored
    reader.reading()       # "validation loss rising for 3 epochs while training loss falls: overfitting"
    reader.weakest()       # [("star", 0.31), ("cross", 0.40)]: per-class AP of the last evaluation, worst first
    reader.class_error()   # mean class error (percent) of the last epoch's steps, or None

The rules, most urgent first (each names the numbers it read):
  - a loss that is not finite;
  - class error at or above 99 % over the last 20 steps (after 20 steps): category ids or classes wrong;
  - validation loss rising for >= 3 evaluations while the training loss falls: overfitting;
  - training loss not falling over >= 3 epochs (last within 2 % of first): learning rate or data;
  - validation AP50 still 0 after >= 3 evaluations while the training loss falls;
  - best validation AP not improved for >= 3 evaluations: a plateau;
  - otherwise, the trend of the training loss and of validation AP.
"""
from __future__ import annotations

from .events import EpochDone, EvalDone, Event, StepDone

STUCK_STEPS = 20
TREND = 3


def _rising(values: list[float], n: int) -> bool:
    tail = values[-(n + 1):]
    return len(tail) == n + 1 and all(b > a for a, b in zip(tail, tail[1:]))


class CurveReader:
    def __init__(self) -> None:
        self.step_class_error: list[float] = []  # class error (%) of recent steps
        self.epoch_loss: list[float] = []  # training loss per epoch
        self.epoch_class_error: list[float] = []
        self.val_loss: list[float] = []  # validation loss per evaluation
        self.val_ap: list[float] = []
        self.val_ap50: list[float] = []
        self.last_metrics: dict | None = None
        self.non_finite = False

    def add(self, event: Event) -> None:
        if isinstance(event, StepDone):
            if event.loss is None:
                self.non_finite = True
            err = (event.losses or {}).get("class_error")
            if err is not None:
                self.step_class_error = (self.step_class_error + [float(err)])[-STUCK_STEPS:]
        elif isinstance(event, EpochDone):
            if event.loss is None:
                self.non_finite = True
            else:
                self.epoch_loss.append(float(event.loss))
            err = (event.losses or {}).get("class_error")
            if err is not None:
                self.epoch_class_error.append(float(err))
        elif isinstance(event, EvalDone):
            m = event.metrics or {}
            self.last_metrics = m
            if event.loss is not None:
                self.val_loss.append(float(event.loss))
            if m.get("AP") is not None:
                self.val_ap.append(float(m["AP"]))
            if m.get("AP50") is not None:
                self.val_ap50.append(float(m["AP50"]))

    def class_error(self) -> float | None:
        if self.epoch_class_error:
            return self.epoch_class_error[-1]
        return sum(self.step_class_error) / len(self.step_class_error) if self.step_class_error else None

    def weakest(self, n: int = 3) -> list[tuple[str, float]]:
        per_class = (self.last_metrics or {}).get("per_class") or {}
        scored = sorted(((name, ap) for name, ap in per_class.items() if ap is not None), key=lambda x: x[1])
        return scored[:n]

    def _training_falls(self) -> bool:
        return len(self.epoch_loss) >= 2 and self.epoch_loss[-1] < self.epoch_loss[0]

    def reading(self) -> str:
        if self.non_finite:
            return "the loss is not finite: lower the learning rate, or check the boxes for NaN or zero sizes"
        if len(self.step_class_error) >= STUCK_STEPS and min(self.step_class_error) >= 99.0:
            return (f"class error stuck at 100 % for {STUCK_STEPS} steps: check the category ids "
                    f"(and that the labels' classes are the model's)")
        if _rising(self.val_loss, TREND) and self._training_falls():
            return (f"validation loss rising for {TREND} evaluations ({self.val_loss[-TREND - 1]:.3f} → "
                    f"{self.val_loss[-1]:.3f}) while training loss falls: overfitting — more data, "
                    f"augmentation or fewer epochs")
        if len(self.epoch_loss) >= TREND and self.epoch_loss[-1] >= 0.98 * self.epoch_loss[0]:
            return (f"training loss not falling over {len(self.epoch_loss)} epochs ({self.epoch_loss[0]:.3f} → "
                    f"{self.epoch_loss[-1]:.3f}): try a higher learning rate, or check the data")
        if len(self.val_ap50) >= TREND and max(self.val_ap50) == 0 and self._training_falls():
            return (f"validation AP50 still 0 after {len(self.val_ap50)} evaluations while the training loss "
                    f"falls: train longer, or check that validation has the same classes")
        if len(self.val_ap) > TREND and max(self.val_ap[-TREND:]) <= max(self.val_ap[:-TREND]):
            return (f"validation AP has not improved for {TREND} evaluations (best {100 * max(self.val_ap):.1f}): "
                    f"a plateau — more epochs will add little")
        parts = []
        if len(self.epoch_loss) >= 2:
            parts.append(f"training loss {'falling' if self._training_falls() else 'flat'} "
                         f"({self.epoch_loss[0]:.3f} → {self.epoch_loss[-1]:.3f})")
        if len(self.val_ap) >= 2:
            trend = "rising" if self.val_ap[-1] > self.val_ap[0] else "not rising"
            parts.append(f"validation AP {trend} ({100 * self.val_ap[0]:.1f} → {100 * self.val_ap[-1]:.1f})")
        return ", ".join(parts) if parts else "too early to read the curves"
