"""The training loop: `train(cfg, model, data, on_event, should_stop, ...)`, plain Python. (Also:
step.py, validation.py, budget.py, groups.py, ema.py; run_types.py, re-exported here.)

One optimizer step = `cfg.accumulate` passes of `cfg.batch_size` images per process, clipping,
AdamW, and the learning-rate schedule (optim.py). The loop calls `on_event` with the events of
events.py (main process only) and checks `should_stop()` before every step; True (on any process)
writes a resumable checkpoint and returns "stopped". A non-finite loss raises NonFiniteLossError
naming the step and the loss terms, writing no checkpoint (the last good one stays).

The main process writes into `run_dir`, atomically: checkpoint.pth (weights + resume state; after
every epoch, at the end, when stopped), model.pth (final weights) and best.pth (best validation AP).
With EMA (cfg.ema_decay) the averaged weights are evaluated and written to model.pth and best.pth.
With a time budget (cfg.time_budget_s) the steps are fitted into it (budget.py). Resuming (`resume=`
checkpoint.pth's state) continues exactly: data order, augmentation, optimizer, schedule, scaler, RNGs.
"""
from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from . import distributed
from ..model.config import ModelConfig
from ..model.criterion import SetCriterion
from ..data.batching import Batch, collate
from ..data.sampler import EpochSampler
from ..errors import CheckpointError, NonFiniteLossError
from .budget import MEASURE_STEPS, BudgetClock, TimeBudget
from .ema import WeightsEMA
from .evaluate import evaluate_model
from .events import (CheckpointSaved, EpochDone, EvalDone, Event, RunEnded, RunStarted, RunWarning, StepDone,
                     run_failed)
from .optim import LRSchedule, build_optimizer
from .run_files import RunFiles
from .config import TrainConfig
from .fold import TrainingFold, folded_for_training
from .groups import GroupedDETR
from .rng_state import rng_state, set_rng_state
from .run_types import StuckWatch, TrainData, TrainResult, autocast_for
from .step import TrainStep
from .trainable import make_trainable
from .validation import validation_loss

OnEvent = Callable[[Event], None]
ShouldStop = Callable[[], bool]


class _Loop:
    """State of one training run (a class only to keep `train` readable)."""

    def __init__(self, cfg: TrainConfig, model: nn.Module, data: TrainData, on_event: OnEvent | None,
                 should_stop: ShouldStop | None, model_config: ModelConfig, run_dir: Path | None,
                 device: torch.device, resume: dict | None, metadata: dict, base: str, fold: TrainingFold,
                 half_weights: bool, recipe: list[str]):
        self.cfg, self.data, self.model_config = cfg, data, model_config
        self.fold = fold
        self.device = device
        self.recipe = recipe
        self.info = distributed.current()
        self.main = self.info.is_main
        self.emit = on_event if (on_event is not None and self.main) else (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.files = RunFiles(run_dir, model_config, list(data.class_map.names), data.class_map, cfg,
                              metadata, base, half_weights) if run_dir is not None else None
        self.base = base
        self.model = model
        self.grouped = GroupedDETR(model, cfg.groups, cfg.group_init, cfg.seed)
        self.criterion = SetCriterion(model_config.num_classes, cfg.criterion).to(device)
        self.sampler = EpochSampler(len(data.train), seed=cfg.seed, rank=self.info.rank,
                                    world_size=self.info.world_size)
        self.micro_per_epoch = math.ceil(self.sampler.per_rank / cfg.batch_size)
        self.steps_per_epoch = math.ceil(self.micro_per_epoch / cfg.accumulate)
        self.optimizer = build_optimizer(model, cfg, extra=self.grouped.extra_parameters())
        self.schedule = LRSchedule(self.optimizer, cfg, self.steps_per_epoch)
        self.autocast, self.amp_dtype, use_scaler = autocast_for(device, cfg.amp)
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.ema = WeightsEMA(model, cfg.ema_decay, cfg.ema_tau) if cfg.ema_decay > 0 else None
        self.clock = BudgetClock(TimeBudget(cfg.time_budget_s, self.steps_per_epoch)) if cfg.time_budget_s else None
        self.epoch, self.epoch_step, self.step = 0, 0, 0
        self.best_ap: float | None = None
        self.metrics: dict | None = None
        self.stuck = StuckWatch()
        self.epoch_sums: dict[str, float] = {}  # loss terms summed over the epoch's steps so far
        self.epoch_images = 0
        self.resumed = resume is not None
        if resume is not None:
            self._restore(resume)
        else:
            self.schedule.apply(0)
        wrapped = self.grouped if cfg.groups > 1 else model
        self.ddp = (DistributedDataParallel(wrapped, device_ids=[device.index] if device.type == "cuda" else None)
                    if self.info.world_size > 1 else None)
        self.stepper = TrainStep(cfg, self.ddp or wrapped, self.criterion, self.optimizer, self.schedule,
                                 self.autocast, self.scaler, device, self.ddp, self.ema, model)
        self.start_time = time.perf_counter()
        self.step_time_ema: float | None = None
        self.eval_time = 0.0
        self.plan_note: str | None = None

    @property
    def total_steps(self) -> int:
        """The steps the run is to train: a time budget's plan once fitted, else whole epochs."""
        planned = self.clock.planned_steps if self.clock is not None else None
        return planned or self.cfg.epochs * self.steps_per_epoch

    # --- resume ---

    def _restore(self, state: dict) -> None:
        if int(state.get("world_size", 1)) != self.info.world_size:
            raise CheckpointError(f"the run was trained on {state.get('world_size')} processes, not "
                                  f"{self.info.world_size}: resume it with the same number")
        self.optimizer.load_state_dict(state["optimizer"])
        if self.clock is not None:
            self.clock.restore(state)
            self.schedule.refit(self.cfg, self.clock.planned_steps)
        self.schedule.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.epoch_step, self.step = int(state["epoch"]), int(state["epoch_step"]), int(state["step"])
        self.best_ap = state.get("best_ap")
        self.metrics = state.get("last_metrics")
        self.stuck.first_loss = state.get("first_epoch_loss")
        self.epoch_sums = dict(state.get("epoch_sums") or {})
        self.epoch_images = int(state.get("epoch_images", 0))
        self.grouped.load_state(state.get("group_queries"))
        if self.ema is not None and state.get("ema"):
            self.ema.load_state_dict(state["ema"])
        set_rng_state(state["rng"])

    def state(self) -> dict:
        state = {"epoch": self.epoch, "epoch_step": self.epoch_step, "step": self.step,
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.schedule.state_dict(),
                 "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                 "rng": rng_state(), "train_config": self.cfg.to_dict(),
                 "world_size": self.info.world_size, "best_ap": self.best_ap,
                 "last_metrics": self.metrics, "first_epoch_loss": self.stuck.first_loss,
                 "epoch_sums": dict(self.epoch_sums), "epoch_images": self.epoch_images}
        if self.cfg.groups > 1:
            state["group_queries"] = self.grouped.state()
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        if self.clock is not None:
            state.update(self.clock.state(self._elapsed()))
        return state

    # --- the loop ---

    def run(self, warnings: list[str]) -> TrainResult:
        cfg = self.cfg
        self.emit(RunStarted(
            run_dir=str(self.files.run_dir) if self.files else None, resumed=self.resumed,
            epochs=cfg.epochs, steps_per_epoch=self.steps_per_epoch, total_steps=self.total_steps,
            start_epoch=self.epoch + 1, start_step=self.step,
            batch_size=cfg.batch_size * cfg.accumulate * self.info.world_size,
            world_size=self.info.world_size, device=str(self.device), train_images=len(self.data.train),
            val_images=len(self.data.val) if self.data.val is not None else 0,
            class_names=list(self.data.class_map.names), model_config=self.model_config.to_dict(),
            train_config=cfg.to_dict(), base=self.base, recipe=list(self.recipe) or None,
            time_budget_s=cfg.time_budget_s))
        for message in warnings:
            self.emit(RunWarning(message))
        while self.epoch < self.cfg.epochs:
            finished = self._train_epoch()
            if finished is False:
                return self._stop()
            self._end_epoch(last=finished is None)
            if finished is None:
                break
        return self._finish()

    def _loader(self) -> DataLoader:
        cfg = self.cfg
        self.data.train.set_epoch(self.epoch)
        self.sampler.set_epoch(self.epoch, skip=self.epoch_step * cfg.accumulate * cfg.batch_size)
        return DataLoader(self.data.train, batch_size=cfg.batch_size, sampler=self.sampler,
                          num_workers=cfg.num_workers, collate_fn=collate,
                          pin_memory=self.device.type == "cuda",
                          generator=torch.Generator().manual_seed(cfg.seed + self.epoch))

    def _train_epoch(self) -> bool | None:
        """Train the rest of the current epoch. False when stopped on request, None when the time
        budget ends the run within it (its planned steps done, or out of time), True otherwise."""
        self.model.train()
        self.epoch_start = time.perf_counter()
        if self.epoch_step == 0:
            self.epoch_sums = {}
            self.epoch_images = 0
        batches = iter(self._loader())
        while self.epoch_step < self.steps_per_epoch:
            if distributed.any_process(bool(self.should_stop()), self.device):
                return False
            if self._budget_ends():
                return None
            micro = []
            for _ in range(self.cfg.accumulate):
                batch = next(batches, None)
                if batch is None:
                    break
                micro.append(batch)
            assert micro, "the data loader ran out before the epoch's last step"
            self._step(micro)
        return True

    def _step(self, micro: list[Batch]) -> None:
        started = time.perf_counter()
        out = self.stepper.run(micro, self.step, self.epoch)
        self.step += 1
        self.epoch_step += 1
        for k, v in out.terms.items():
            self.epoch_sums[k] = self.epoch_sums.get(k, 0.0) + v
        images = out.images * self.info.world_size
        self.epoch_images += images
        elapsed = time.perf_counter() - started
        self.step_time_ema = elapsed if self.step_time_ema is None else 0.9 * self.step_time_ema + 0.1 * elapsed
        if self.clock is not None:
            self.clock.step_times.append(elapsed)
            if self.clock.fits == 0 and len(self.clock.step_times) > MEASURE_STEPS:
                self._fit_budget(1)
        self.emit(StepDone(
            epoch=self.epoch + 1, epoch_step=self.epoch_step, steps_per_epoch=self.steps_per_epoch,
            step=self.step, total_steps=self.total_steps, loss=out.terms["loss"],
            losses={k: v for k, v in out.terms.items() if k != "loss"}, lr=out.lr, lr_backbone=out.lr_backbone,
            grad_norm=out.grad_norm, images_per_s=images / max(elapsed, 1e-9),
            elapsed_s=time.perf_counter() - self.start_time, eta_s=self._eta(), plan=self.plan_note))
        self.plan_note = None

    # --- the time budget ---

    def _elapsed(self) -> float:
        spent = self.clock.spent_before_s if self.clock is not None else 0.0
        return spent + time.perf_counter() - self.start_time

    def _val_images(self) -> int:
        return len(self.data.val) if self.data.val is not None else 0

    def _fit_budget(self, stage: int) -> None:
        """(Re)fit steps (one more at least) and evaluations into the budget; epochs and lr schedule follow."""
        plan = distributed.broadcast_object(self.clock.plan(  # rank 0's plan (and lr schedule) everywhere
            elapsed_s=self._elapsed(), steps_done=self.step, batch_size=self.cfg.batch_size,
            val_images=self._val_images()))
        self.clock.planned_steps = steps = max(plan.total_steps, self.step + 1)
        self.cfg = self.cfg.replace(epochs=math.ceil(steps / self.steps_per_epoch), eval_every=plan.eval_every)
        self.schedule.refit(self.cfg, steps)
        self.schedule.apply(self.step)
        self.stepper.cfg = self.cfg
        if self.files is not None:
            self.files.cfg = self.cfg
        self.clock.fits = stage
        self.plan_note = plan.reason

    def _budget_ends(self) -> bool:
        return self.clock is not None and distributed.any_process(self.clock.ends_before(  # all end together
            self.step, self._elapsed(), self.cfg.batch_size, self._val_images()), self.device)

    def _eta(self) -> float:
        remaining = self.total_steps - self.step
        evals_left = self._evals_left()
        return remaining * (self.step_time_ema or 0.0) + evals_left * self.eval_time

    def _evals_left(self) -> int:
        return 0 if self.data.val is None else sum(self._eval_due(e) for e in range(self.epoch, self.cfg.epochs))

    def _eval_due(self, epoch: int) -> bool:
        every = self.cfg.eval_every
        return epoch == self.cfg.epochs - 1 or (every > 0 and (epoch + 1) % every == 0)

    def _end_epoch(self, last: bool = False) -> None:
        """`last`: the time budget ends the run with this (possibly partial) epoch."""
        cfg = self.cfg
        n = max(self.epoch_step, 1)
        means = {k: v / n for k, v in self.epoch_sums.items()}
        duration = time.perf_counter() - self.epoch_start
        overhead_start = time.perf_counter()
        metrics = None
        if last:
            self.cfg = cfg = cfg.replace(epochs=self.epoch + 1)
            if self.files is not None:
                self.files.cfg = cfg
        if self.data.val is not None and self._eval_due(self.epoch):
            metrics = self._evaluate()
        eval_cost = time.perf_counter() - overhead_start
        self.epoch += 1
        self.epoch_step = 0
        final = self.epoch == cfg.epochs
        self.emit(EpochDone(epoch=self.epoch, epochs=cfg.epochs, step=self.step, total_steps=self.total_steps,
                            loss=means.get("loss", float("nan")),
                            losses={k: v for k, v in means.items() if k != "loss"}, duration_s=duration,
                            images_per_s=self.epoch_images / max(duration, 1e-9), eta_s=self._eta(),
                            metrics=metrics))
        warning = self.stuck.check(self.epoch, means.get("loss"))
        if warning:
            self.emit(RunWarning(warning))
        improved = metrics is not None and metrics.get("AP") is not None and (
            self.best_ap is None or metrics["AP"] > self.best_ap)
        if improved:
            self.best_ap = metrics["AP"]
        if self.files is not None and self.main:
            path = self.files.save_checkpoint(self.model, self.state(), self.epoch, self.step, self.metrics)
            self.emit(CheckpointSaved(str(path), self.epoch, self.step, "final" if final else "epoch", True))
            if improved:
                with self._deployed() as deployed:
                    self.files.save_best(deployed, self.epoch, self.step, self.metrics)
        distributed.barrier()
        if self.clock is not None and not final:
            self.clock.epoch_overhead_s = time.perf_counter() - overhead_start - eval_cost
            if metrics is not None:
                self.clock.eval_s = self.eval_time
            if metrics is not None and self.clock.fits < 3:
                self._fit_budget(3)
            elif self.clock.fits == 1 or distributed.any_process(self.clock.drifted(  # all refit together
                    self._elapsed(), self.step, self.cfg.batch_size, self._val_images()), self.device):
                self._fit_budget(max(2, self.clock.fits))

    def _deployed(self):
        """The weights to evaluate and deploy: the EMA's when it is on (swapped in), else the model's."""
        return self.ema.swapped_in(self.model) if self.ema is not None else contextlib.nullcontext(self.model)

    def _evaluate(self) -> dict:
        with self._deployed(), self.fold.suspended():  # the plain model, for the inference copy
            result = evaluate_model(self.model, self.model_config, self.data.class_map, self.data.val,
                                    device=self.device, batch_size=self.cfg.batch_size,
                                    num_workers=min(self.cfg.num_workers, 2))
            started = time.perf_counter()
            val_terms = validation_loss(self.model, self.criterion, self.data.val, device=self.device,
                                        batch_size=self.cfg.batch_size,
                                        num_workers=min(self.cfg.num_workers, 2), autocast=self.autocast)
        self.eval_time = result.duration_s + time.perf_counter() - started
        self.metrics = result.metrics
        self.emit(EvalDone(epoch=self.epoch + 1, step=self.step, metrics=result.metrics,
                           images=result.images, duration_s=self.eval_time,
                           loss=val_terms.pop("loss", None), losses=val_terms or None))
        self.model.train()
        return result.metrics

    def _stop(self) -> TrainResult:
        path = None
        if self.files is not None and self.main:
            path = self.files.save_checkpoint(self.model, self.state(), self.epoch, self.step, self.metrics)
            self.emit(CheckpointSaved(str(path), self.epoch + (self.epoch_step > 0), self.step, "stopped", True))
        distributed.barrier()
        self.emit(RunEnded("stopped", self.epoch + (self.epoch_step > 0), self.step, self.total_steps,
                           time.perf_counter() - self.start_time, self.metrics,
                           str(path) if path else None, None))
        return TrainResult("stopped", self.epoch, self.step, self.metrics, path, None)

    def _finish(self) -> TrainResult:
        checkpoint = model_path = None
        if self.files is not None and self.main:
            checkpoint = self.files.checkpoint
            with self._deployed() as deployed:
                model_path = self.files.save_model(deployed, self.epoch, self.step, self.metrics)
        distributed.barrier()
        self.emit(RunEnded("completed", self.epoch, self.step, self.total_steps,
                           time.perf_counter() - self.start_time, self.metrics,
                           str(checkpoint) if checkpoint else None, str(model_path) if model_path else None))
        return TrainResult("completed", self.epoch, self.step, self.metrics, checkpoint, model_path)

    def fail(self, error: BaseException) -> None:
        last = self.files.checkpoint if self.files is not None and self.files.checkpoint.exists() else None
        self.emit(run_failed(error, self.epoch + 1, self.step, str(last) if last else None))


def train(cfg: TrainConfig, model: nn.Module, data: TrainData, on_event: OnEvent | None = None,
          should_stop: ShouldStop | None = None, *, model_config: ModelConfig,
          run_dir: str | Path | None = None, device: str | torch.device = "cpu",
          resume: dict | None = None, metadata: dict | None = None, base: str = "",
          warnings: list[str] | None = None, half_weights: bool = False,
          recipe: list[str] | None = None) -> TrainResult:
    """Train `model` (a DETR built for `model_config`, already holding its starting weights) on
    `data`. `run_dir`: where checkpoints go (None: nowhere). `resume`: the "state" of a
    checkpoint.pth to continue from. `metadata`: stored in every checkpoint, next to the
    category ids and metrics. `warnings`: emitted as "warning" events right after "start".
    `half_weights`: model.pth and best.pth in fp16. `recipe`: lines saying how the configuration
    was chosen (the "start" event carries them). Under torch.distributed (see distributed.py) every process calls
    this; only the main one emits events and writes files.

    Raises NonFiniteLossError, CheckpointError, DatasetError / ImageError (bad samples); an
    "error" event is emitted first."""
    device = torch.device(device)
    model.to(device)
    model_config = make_trainable(model, cfg, model_config)
    run_dir = Path(run_dir) if run_dir is not None else None
    loop = None
    try:
        with folded_for_training(model, batch_stats=cfg.batch_stats) as fold:
            loop = _Loop(cfg, model, data, on_event, should_stop, model_config, run_dir, device, resume,
                         dict(metadata or {}), base, fold, half_weights, list(recipe or []))
            return loop.run(warnings or [])
    except Exception as error:
        if loop is not None:
            loop.fail(error)
            error.reported = True  # the CLI does not report it again
        raise
