"""A time budget plans optimizer steps, not whole epochs (train/budget.py): the last epoch may end
part-way, the lr schedule spans the planned steps, and a resumed run keeps them. Runs without a
budget keep their whole-epoch schedule."""
from __future__ import annotations

import math
import re
import shutil

import pytest
import torch

from detr_core.checkpoints import load_checkpoint, read_checkpoint_state
from detr_core.train.budget import BudgetClock, TimeBudget
from detr_core.train.config import TrainConfig
from detr_core.train.engine import train
from detr_core.train.optim import LRSchedule, build_optimizer

from test_train_helpers import Recorder, shapes_dataset, stop_after, tiny_config, tiny_model, train_data

# The measured case (README): a 30-minute budget, 750-step epochs at 0.6 s per step.
LONG_EPOCHS = dict(elapsed_s=5.0, steps_done=4, step_s=0.6, epoch_overhead_s=2.0)


def _plan_seconds(plan, spe: int, measured: dict, evals: int) -> float:
    """Seconds the rest of the plan takes: its steps, the end of every epoch left, its evaluations."""
    epochs_left = plan.epochs - measured["steps_done"] // spe
    return ((plan.total_steps - measured["steps_done"]) * measured["step_s"]
            + epochs_left * measured["epoch_overhead_s"] + evals * plan.eval_s)


def _evaluations(plan) -> int:
    every = plan.eval_every
    return sum(e == plan.epochs - 1 or (every > 0 and (e + 1) % every == 0) for e in range(plan.epochs))


@pytest.mark.parametrize("eval_s", [30.0, 10.0])  # 10 s: far fewer evaluations than the tenth allows
def test_a_budget_that_does_not_fit_whole_epochs_ends_part_way_and_on_time(eval_s):
    plan = TimeBudget(1800.0, steps_per_epoch=750).fit(**LONG_EPOCHS, eval_s=eval_s, has_val=True)
    assert plan.total_steps % 750 != 0 and plan.total_steps > 3 * 750  # whole epochs: 3, ending minutes early
    assert plan.epochs == math.ceil(plan.total_steps / 750) == 4
    evals = _evaluations(plan)
    assert evals * eval_s <= 0.1 * 1800
    seconds = _plan_seconds(plan, 750, LONG_EPOCHS, evals)
    assert 1800 - 5.0 - 0.6 < seconds <= 1800 - 5.0  # fits, and one more step would not
    assert re.search(rf"-> 3\.\d+ epochs \({plan.total_steps} steps\)", plan.reason), plan.reason


def test_a_fit_without_validation_counts_epoch_ends_and_never_plans_fewer_steps_than_done():
    budget = TimeBudget(600.0, steps_per_epoch=100)
    plan = budget.fit(elapsed_s=2.0, steps_done=3, step_s=0.5, epoch_overhead_s=4.0, eval_s=0.0, has_val=False)
    assert _plan_seconds(plan, 100, dict(steps_done=3, step_s=0.5, epoch_overhead_s=4.0), 0) <= 598.0
    assert plan.total_steps == 3 + int((598.0 - 12 * 4.0) / 0.5) == 1103  # 12 epoch ends, the last after 3 steps
    late = budget.fit(elapsed_s=599.0, steps_done=250, step_s=0.5, epoch_overhead_s=4.0, eval_s=0.0,
                      has_val=False)
    assert (late.total_steps, late.epochs) == (250, 3)


def _schedule(cfg: TrainConfig, spe: int) -> LRSchedule:
    return LRSchedule(build_optimizer(torch.nn.Linear(2, 2), cfg), cfg, steps_per_epoch=spe)


def test_the_schedules_span_the_planned_steps():
    plan = TimeBudget(1800.0, steps_per_epoch=750).fit(**LONG_EPOCHS, eval_s=30.0, has_val=True)
    cfg = TrainConfig(schedule="cosine", warmup_steps=50, min_lr_ratio=0.05).replace(epochs=plan.epochs)
    cosine = _schedule(cfg, 750)
    cosine.refit(cfg, plan.total_steps)
    last = plan.total_steps - 1
    assert cosine.factor(last) == pytest.approx(0.05, abs=1e-5)  # the low end at the last planned step
    assert cosine.factor(plan.total_steps) == pytest.approx(0.05)
    assert cosine.factor(3 * 750) > 0.06 and cosine.factor(49) < cosine.factor(50) == pytest.approx(1.0)
    step = _schedule(cfg.replace(schedule="step"), 750)
    step.refit(cfg.replace(schedule="step"), plan.total_steps)
    drop = round(plan.total_steps * 2 / 3)
    assert (step.factor(drop - 1), step.factor(drop)) == (pytest.approx(1.0), pytest.approx(0.1))
    given = cfg.replace(schedule="step", lr_drop=2)
    step.refit(given, plan.total_steps)
    assert (step.factor(1499), step.factor(1500)) == (pytest.approx(1.0), pytest.approx(0.1))  # lr_drop: epochs


def _reference_factor(cfg: TrainConfig, spe: int, step: int) -> float:
    """The documented schedule over whole epochs (optim.py), written out independently."""
    warm = 0.01 + 0.99 * step / cfg.warmup_steps if step < cfg.warmup_steps else 1.0
    if cfg.schedule == "step":
        return warm * (0.1 if step >= max(1, round(cfg.epochs * 2 / 3)) * spe else 1.0)
    t = min(1.0, max(0.0, (step - cfg.warmup_steps) / (cfg.epochs * spe - cfg.warmup_steps)))
    return warm * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["cosine", "step"])
def test_a_run_without_a_budget_keeps_its_lr_at_every_step(tmp_path, schedule):
    data = train_data(shapes_dataset(tmp_path / "train", 2))
    cfg = TrainConfig(epochs=3, batch_size=1, num_workers=0, warmup_steps=2, schedule=schedule, eval_every=0)
    rec = Recorder()
    result = train(cfg, tiny_model(seed=0), data, rec, model_config=tiny_config())
    assert result.step == 6 and [s["total_steps"] for s in rec.of("step")] == [6] * 6
    assert [s["lr"] for s in rec.of("step")] == [cfg.lr * _reference_factor(cfg, 2, i) for i in range(6)]


@pytest.fixture
def steady_fit(monkeypatch):
    """Fits as if every step took 10 s, an evaluation 15 s and an epoch's end nothing, so the plan
    does not depend on how fast this machine is: a 170 s budget holds 15 steps (2.5 epochs of 6)
    and one evaluation, while the real run takes a few seconds."""
    fit = TimeBudget.fit

    def steady(self, *, steps_done, has_val, **measured):
        return fit(self, elapsed_s=10.0 * steps_done, steps_done=steps_done, step_s=10.0, epoch_overhead_s=0.0,
                   eval_s=15.0, has_val=has_val)
    monkeypatch.setattr(TimeBudget, "fit", steady)


BUDGET_CFG = TrainConfig(epochs=1, batch_size=1, num_workers=0, time_budget_s=170.0, schedule="cosine")


def _budget_data(tmp_path):
    return train_data(shapes_dataset(tmp_path / "train", 6), shapes_dataset(tmp_path / "val", 2, seed=4))


@pytest.mark.slow
def test_a_budget_run_ends_part_way_through_its_last_epoch(tmp_path, steady_fit):
    rec = Recorder()
    (tmp_path / "run").mkdir()
    result = train(BUDGET_CFG, tiny_model(seed=0), _budget_data(tmp_path), rec, model_config=tiny_config(),
                   run_dir=tmp_path / "run")
    assert result.status == "completed" and (result.step, result.epoch) == (15, 3)  # 6 + 6 + 3 steps
    steps = rec.of("step")
    assert "2.5 epochs (15 steps)" in next(s["plan"] for s in steps if s.get("plan"))
    assert steps[-1]["epoch_step"] == 3 and steps[-1]["total_steps"] == 15 == rec.of("end")[0]["total_steps"]
    assert steps[-1]["lr"] == pytest.approx(BUDGET_CFG.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 14 / 15))))
    evals = rec.of("eval")
    assert len(evals) == 1 and evals[0]["step"] == 15  # the final evaluation, after the partial epoch
    assert rec.of("epoch")[-1]["epoch"] == rec.of("epoch")[-1]["epochs"] == 3
    assert (tmp_path / "run/model.pth").is_file() and (tmp_path / "run/best.pth").is_file()
    assert rec.events[-1]["type"] == "end"


def test_the_clock_refits_when_the_steps_ran_faster_or_slower_than_planned():
    """A first epoch of a few steps times them poorly: a later fit that would move the plan's end by
    more than DRIFT of the budget asks for a refit; a small change does not."""
    clock = BudgetClock(TimeBudget(600.0, steps_per_epoch=5))
    clock.step_times = [1.0] + [0.34] * 5
    measured = dict(elapsed_s=3.0, steps_done=5, batch_size=4, val_images=0)
    assert not clock.drifted(**measured)  # not fitted yet
    clock.planned_steps, clock.fits = clock.plan(**measured).total_steps, 2
    assert not clock.drifted(**measured)
    clock.step_times += [0.335] * 10  # the end would move by 7 s: under DRIFT (12 s)
    assert not clock.drifted(elapsed_s=8.0, steps_done=15, batch_size=4, val_images=0)
    clock.step_times += [0.30] * 40  # the steps run 12 % faster: the plan would end 70 s early
    assert clock.drifted(elapsed_s=20.0, steps_done=55, batch_size=4, val_images=0)
    slower = BudgetClock(TimeBudget(600.0, steps_per_epoch=5), fits=2)
    slower.step_times = [1.0] + [0.34] * 5
    slower.planned_steps = slower.plan(**measured).total_steps
    slower.step_times += [0.40] * 40
    assert slower.drifted(elapsed_s=20.0, steps_done=45, batch_size=4, val_images=0)


@pytest.mark.slow
def test_a_budget_run_whose_steps_speed_up_refits_and_uses_its_budget(tmp_path, monkeypatch):
    """Fits as if the first 9 steps took 10 s each and the later ones 5 s (170 s budget, 6 steps per
    epoch, one 15 s evaluation): planned at 15 steps after the first epoch, the run refits at the
    end of the second (that plan would have ended 35 s early) and does 22."""
    fit = TimeBudget.fit

    def speeding_up(self, *, steps_done, has_val, **measured):
        elapsed = 10.0 * min(steps_done, 9) + 5.0 * max(0, steps_done - 9)
        return fit(self, elapsed_s=elapsed, steps_done=steps_done, step_s=10.0 if steps_done < 9 else 5.0,
                   epoch_overhead_s=0.0, eval_s=15.0, has_val=has_val)
    monkeypatch.setattr(TimeBudget, "fit", speeding_up)
    rec = Recorder()
    result = train(BUDGET_CFG, tiny_model(seed=0), _budget_data(tmp_path), rec, model_config=tiny_config())
    assert result.status == "completed" and result.step == 22
    plans = [(s["step"], s["plan"]) for s in rec.of("step") if s.get("plan")]
    assert "(15 steps)" in plans[0][1] and plans[-1][0] == 13 and "(22 steps)" in plans[-1][1], plans
    assert rec.of("end")[0]["total_steps"] == 22 and len(rec.of("eval")) == 1


def _resume(tmp_path, data, state: dict):
    """Continue the run stopped into stopped.pth from `state` (as `train --resume` does)."""
    rec = Recorder()
    model = load_checkpoint(tmp_path / "stopped.pth").model
    cfg = TrainConfig.from_dict(state["train_config"])
    result = train(cfg, model, data, rec, model_config=tiny_config(), run_dir=tmp_path / "run", resume=state)
    return result, rec


@pytest.mark.slow
def test_a_resumed_budget_run_keeps_its_planned_steps_and_an_old_state_still_resumes(tmp_path, steady_fit):
    rec = Recorder()
    (tmp_path / "run").mkdir()
    data = _budget_data(tmp_path)
    first = train(BUDGET_CFG, tiny_model(seed=0), data, rec, stop_after(8, rec), model_config=tiny_config(),
                  run_dir=tmp_path / "run")
    assert first.status == "stopped" and first.step == 8
    shutil.copy(tmp_path / "run/checkpoint.pth", tmp_path / "stopped.pth")
    state = read_checkpoint_state(tmp_path / "stopped.pth")["state"]
    assert state["budget_steps"] == 15
    torch.manual_seed(1234)
    result, rec2 = _resume(tmp_path, data, dict(state))
    assert rec2.of("start")[0]["total_steps"] == 15 and result.status == "completed"
    assert (result.step, result.epoch) == (15, 3) and rec2.of("eval")[-1]["step"] == 15
    old = {k: v for k, v in state.items() if k != "budget_steps"}  # saved before plans counted steps
    result, _ = _resume(tmp_path, data, old)
    assert result.status == "completed" and (result.step, result.epoch) == (18, 3)  # whole epochs, as then
