"""Training for a time instead of for epochs (`train --time-budget 10m`).

The run measures its first optimizer steps, then fits the number of epochs (and with it the
learning-rate schedule: warm-up, cosine or step end) and the evaluation schedule into the budget:
evaluations may cost at most EVAL_SHARE of it, and the last epoch always evaluates. The fit is
repeated when better numbers arrive (after the first epoch: checkpoint writing; after the first
evaluation: its real cost). Whatever the machine does meanwhile, the loop asks `out_of_time` before
every step and ends early (final evaluation, model.pth, best.pth) rather than late.

    budget = TimeBudget(600.0, steps_per_epoch=5)
    plan = budget.fit(elapsed_s=4.1, steps_done=3, step_s=1.3, epoch_overhead_s=0.2,
                      eval_s=6.0)            # -> Plan(epochs=..., eval_every=...)
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import WorkbenchError

EVAL_SHARE = 0.10  # evaluations may take at most this share of the budget
MEASURE_STEPS = 3  # steps timed before the first fit (after the first, which warms caches up)
MAX_EPOCHS = 100_000


class BudgetError(WorkbenchError):
    """A time budget that cannot be met (one line naming the setting)."""


def parse_duration(text: str) -> float:
    """"10m", "90s", "1h30m", "600" (seconds) -> seconds."""
    text = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", text)
        if not parts or "".join(n + u for n, u in parts) != re.sub(r"\s+", "", text):
            raise BudgetError(f"--time-budget {text!r}: not a duration; write e.g. 10m, 90s or 1h30m")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if seconds <= 0:
        raise BudgetError(f"--time-budget {text!r}: must be longer than zero")
    return seconds


@dataclass(frozen=True)
class Plan:
    epochs: int
    eval_every: int  # 0: only after the last epoch
    step_s: float
    eval_s: float
    reason: str  # one line: how it was fitted


class TimeBudget:
    def __init__(self, budget_s: float, steps_per_epoch: int):
        self.budget_s = float(budget_s)
        self.steps_per_epoch = steps_per_epoch

    def fit(self, *, elapsed_s: float, steps_done: int, step_s: float, epoch_overhead_s: float,
            eval_s: float, has_val: bool) -> Plan:
        """The plan for the rest of the run given the costs measured so far (seconds)."""
        left = self.budget_s - elapsed_s
        if step_s >= self.budget_s:
            raise BudgetError(f"--time-budget {self.budget_s:.0f}s is shorter than one training step "
                              f"({step_s:.1f} s here); give a longer budget or a smaller --batch-size")
        evals = 0
        if has_val:
            evals = max(1, int(EVAL_SHARE * self.budget_s // max(eval_s, 1e-6)))
        spe = self.steps_per_epoch
        per_epoch = spe * step_s + epoch_overhead_s  # seconds of one more epoch, without evaluating
        train_left = left - evals * eval_s  # evaluations: at most EVAL_SHARE of the budget (one at least)
        epochs = max(1, int(steps_done / spe + max(0.0, train_left) / per_epoch))
        if steps_done and epochs * spe < steps_done:
            epochs = math.ceil(steps_done / spe)
        epochs = min(epochs, MAX_EPOCHS)
        eval_every = 0
        if has_val and evals > 1:
            eval_every = max(1, math.ceil(epochs / evals))
        reason = (f"{self.budget_s / 60:.1f} min budget: {step_s:.2f} s per step, {spe} steps per epoch"
                  + (f", {eval_s:.1f} s per evaluation" if has_val else "")
                  + f" -> {epochs} epochs" + (f", evaluating every {eval_every}" if eval_every else
                                               ", evaluating at the end" if has_val else ""))
        return Plan(epochs, eval_every, step_s, eval_s, reason)

    def out_of_time(self, elapsed_s: float, step_s: float, final_eval_s: float) -> bool:
        """True when one more step and the final evaluation would end past the budget."""
        return elapsed_s + step_s + final_eval_s > self.budget_s


def estimate_eval_s(step_s: float, batch_size: int, val_images: int) -> float:
    """Before the first evaluation: a forward pass (detection) and another (validation loss) per
    image, each about a third of a training step's forward and backward, plus scoring."""
    if not val_images:
        return 0.0
    return val_images * (step_s / max(batch_size, 1)) * 2 / 3 + 0.5


class BudgetClock:
    """What the training loop measures for its budget: step times, the cost of an evaluation and
    of an epoch's end, the seconds spent before a resume; and how often it has fitted."""

    def __init__(self, budget: TimeBudget, spent_before_s: float = 0.0, fits: int = 0):
        self.budget = budget
        self.spent_before_s = spent_before_s
        self.fits = fits  # 0: not yet; 1: after the first steps; 2: after an epoch; 3: after an evaluation
        self.step_times: list[float] = []
        self.eval_s = 0.0  # measured, once there was an evaluation
        self.epoch_overhead_s = 0.0

    def step_s(self) -> float:
        times = self.step_times[1:] or self.step_times  # the first warms caches up
        return sorted(times)[len(times) // 2]

    def eval_estimate(self, batch_size: int, val_images: int) -> float:
        return self.eval_s or estimate_eval_s(self.step_s(), batch_size, val_images)

    def plan(self, *, elapsed_s: float, steps_done: int, batch_size: int, val_images: int) -> Plan:
        return self.budget.fit(elapsed_s=elapsed_s, steps_done=steps_done, step_s=self.step_s(),
                               epoch_overhead_s=self.epoch_overhead_s,
                               eval_s=self.eval_estimate(batch_size, val_images), has_val=val_images > 0)

    def out_of_time(self, elapsed_s: float, batch_size: int, val_images: int) -> bool:
        if not self.step_times:
            return False
        return self.budget.out_of_time(elapsed_s, self.step_s(), self.eval_estimate(batch_size, val_images))
