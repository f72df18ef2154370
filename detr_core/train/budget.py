"""Training for a time instead of for epochs (`train --time-budget 10m`).

The run measures its first optimizer steps, then fits the number of optimizer steps (and with it
the learning-rate schedule: warm-up, cosine or step end) and the evaluation schedule into the
budget: evaluations may cost at most EVAL_SHARE of it, and the last epoch always evaluates. The
steps need not fill whole epochs: the last epoch ends part-way when that is what fits, so the run
uses its budget. The fit is repeated when better numbers arrive (after the first epoch: checkpoint
writing; after the first evaluation: its real cost), and again at any later epoch's end where the
steps have run so much faster or slower than when it was fitted that the plan would end more than
DRIFT of the budget early or late (a first epoch of a few steps times them poorly). Whatever the
machine does meanwhile, the loop asks `out_of_time` before every step and ends early (final
evaluation, model.pth, best.pth) rather than late.

    budget = TimeBudget(600.0, steps_per_epoch=5)
    plan = budget.fit(elapsed_s=4.1, steps_done=3, step_s=1.3, epoch_overhead_s=0.2, eval_s=6.0,
                      has_val=True)  # -> Plan(total_steps=..., epochs=..., eval_every=...)
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import WorkbenchError

EVAL_SHARE = 0.10  # evaluations may take at most this share of the budget
DRIFT = 0.02  # a later epoch's end refits when the plan's end has moved by more than this share of it
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
    total_steps: int  # optimizer steps that fit, counted from the run's start
    epochs: int  # the epochs that hold them; the last one may end part-way
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
        """The plan for the rest of the run given the costs measured so far (seconds). Time is
        reserved for the evaluations the plan makes (at most EVAL_SHARE of the budget, one at
        least); the rest goes to training steps, the last epoch ending part-way when whole epochs
        do not fit."""
        if step_s >= self.budget_s:
            raise BudgetError(f"--time-budget {self.budget_s:.0f}s is shorter than one training step "
                              f"({step_s:.1f} s here); give a longer budget or a smaller --batch-size")
        allowed = max(1, int(EVAL_SHARE * self.budget_s // max(eval_s, 1e-6))) if has_val else 0
        best, reserved = None, allowed
        for _ in range(3):  # fewer evaluations than allowed: their time trains instead
            candidate = self._plan(self.budget_s - elapsed_s - reserved * eval_s, allowed, steps_done, step_s,
                                   epoch_overhead_s, has_val)
            evals = self._evaluations(candidate, steps_done) if has_val else 0
            if evals <= reserved and (best is None or candidate[0] > best[0]):
                best = candidate
            if evals >= reserved:
                break
            reserved = evals
        total, epochs, eval_every = best
        return Plan(total, epochs, eval_every, step_s, eval_s, self._reason(total, epochs, eval_every, step_s,
                                                                          eval_s, has_val))

    def _plan(self, train_s: float, allowed: int, steps_done: int, step_s: float, epoch_overhead_s: float,
              has_val: bool) -> tuple[int, int, int]:
        """(total steps, epochs, eval_every) with `train_s` seconds left for training."""
        spe = self.steps_per_epoch
        total = min(max(1, steps_done + self._steps_that_fit(train_s, steps_done, step_s, epoch_overhead_s)),
                    MAX_EPOCHS * spe)
        epochs = math.ceil(total / spe)
        eval_every = max(1, math.ceil(epochs / allowed)) if has_val and allowed > 1 else 0
        return total, epochs, eval_every

    def _steps_that_fit(self, seconds: float, steps_done: int, step_s: float, overhead_s: float) -> int:
        """The most further steps whose time fits into `seconds`: the steps and the end (checkpoint
        writing) of every epoch they reach, the last one possibly partial."""
        spe = self.steps_per_epoch
        first_epoch = steps_done // spe  # the epoch the next step trains in
        upper = max(0, int(seconds / (step_s + overhead_s / spe)))  # overheads spread: never fewer ends
        ends = math.ceil((steps_done + upper) / spe) - first_epoch
        best = 0
        for k in (ends - 1, ends):  # the best count ends in the last epoch `upper` reaches, or the one before
            if k >= 1:
                steps = min(int((seconds - k * overhead_s) / step_s), (first_epoch + k) * spe - steps_done, upper)
                best = max(best, steps)
        return best

    def _evaluations(self, plan: tuple[int, int, int], steps_done: int) -> int:
        """Evaluations left under the plan: the due epochs from the current one on, the last always."""
        _, epochs, every = plan
        current = steps_done // self.steps_per_epoch
        return sum(e == epochs - 1 or (every > 0 and (e + 1) % every == 0) for e in range(current, epochs))

    def _reason(self, total: int, epochs: int, eval_every: int, step_s: float, eval_s: float,
                has_val: bool) -> str:
        spe = self.steps_per_epoch
        shown = f"{math.floor(total / spe * 100) / 100:g}"  # "3.6": part-way through the fourth
        return (f"{self.budget_s / 60:.1f} min budget: {step_s:.2f} s per step, {spe} steps per epoch"
                + (f", {eval_s:.1f} s per evaluation" if has_val else "")
                + f" -> {shown} epochs ({total} steps)" + (f", evaluating every {eval_every}" if eval_every else
                                                          ", evaluating at the end" if has_val else ""))

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
    of an epoch's end, the seconds spent before a resume; how often it has fitted and the optimizer
    steps it planned."""

    def __init__(self, budget: TimeBudget, spent_before_s: float = 0.0, fits: int = 0):
        self.budget = budget
        self.spent_before_s = spent_before_s
        self.fits = fits  # 0: not yet; 1: after the first steps; 2: after an epoch; 3: after an evaluation
        self.planned_steps: int | None = None  # the last fit's total (None: not fitted yet)
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

    def drifted(self, elapsed_s: float, steps_done: int, batch_size: int, val_images: int) -> bool:
        """True when a fit now would move the planned end by more than DRIFT of the budget: the
        steps have run faster or slower than when the plan was made."""
        if self.planned_steps is None or self.fits < 2:
            return False
        plan = self.plan(elapsed_s=elapsed_s, steps_done=steps_done, batch_size=batch_size, val_images=val_images)
        return abs(plan.total_steps - self.planned_steps) * plan.step_s > DRIFT * self.budget.budget_s

    def out_of_time(self, elapsed_s: float, batch_size: int, val_images: int) -> bool:
        if not self.step_times:
            return False
        return self.budget.out_of_time(elapsed_s, self.step_s(), self.eval_estimate(batch_size, val_images))

    def ends_before(self, step: int, elapsed_s: float, batch_size: int, val_images: int) -> bool:
        """True when the run ends before optimizer step `step` (0-based): the planned steps are
        done, or one more step and the final evaluation would end past the budget."""
        done = self.planned_steps is not None and step >= self.planned_steps
        return done or self.out_of_time(elapsed_s, batch_size, val_images)

    def state(self, elapsed_s: float) -> dict:
        """The part of a run's resumable state that is the budget's."""
        return {"budget_fits": self.fits, "budget_elapsed_s": elapsed_s, "budget_steps": self.planned_steps}

    def restore(self, state: dict) -> None:
        """From a run state; one saved before plans counted steps (no budget_steps) keeps whole epochs."""
        self.fits = int(state.get("budget_fits", 0))
        self.spent_before_s = float(state.get("budget_elapsed_s", 0.0))
        steps = state.get("budget_steps")
        self.planned_steps = int(steps) if steps is not None else None
