"""The training loop: `train(cfg, model, data, on_event, should_stop, ...)`, plain Python.

One optimizer step = `cfg.accumulate` forward/backward passes of `cfg.batch_size` images on every
process, then gradient clipping, AdamW, and the learning-rate schedule (optim.py). The loop calls
`on_event` with the events of events.py (on the main process only) and checks `should_stop()`
before every step; when it returns True (on any process) the loop writes a resumable checkpoint
and returns with status "stopped". A non-finite loss raises NonFiniteLossError naming the step and
the loss terms, without writing a checkpoint (the last good one stays).

Files written into `run_dir` by the main process (all atomically, see checkpoints.save_checkpoint):
    checkpoint.pth  after every epoch, at the end and when stopped: weights + resume state
    model.pth       at the end: the final weights (no optimizer state; what to deploy)
    best.pth        when validation AP improves: those weights
Resuming (`resume=` the state of checkpoint.pth, model already holding its weights) continues
exactly: same data order and augmentation (functions of seed, epoch and index), optimizer,
schedule, loss scaler and random generators.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset

from . import distributed
from ..model.config import ModelConfig
from ..model.criterion import SetCriterion
from ..data.classes import ClassMap
from ..data.collate import Batch, collate
from ..data.dataset import CocoDetection
from ..data.sampler import EpochSampler
from ..errors import CheckpointError, NonFiniteLossError
from .evaluate import evaluate_model
from .events import (CheckpointSaved, EpochDone, EvalDone, Event, RunEnded, RunStarted, RunWarning, StepDone,
                     run_failed)
from .optim import LRSchedule, build_optimizer
from .run_files import RunFiles
from .config import TrainConfig
from .fold import TrainingFold, folded_for_training
from .rng_state import rng_state, set_rng_state

OnEvent = Callable[[Event], None]
ShouldStop = Callable[[], bool]


@dataclass
class TrainData:
    train: CocoDetection
    val: CocoDetection | None
    class_map: ClassMap


@dataclass
class TrainResult:
    status: str  # "completed" | "stopped"
    epoch: int  # epochs completed
    step: int  # optimizer steps done
    metrics: dict | None  # last validation
    checkpoint: Path | None
    model: Path | None


def _autocast(device: torch.device, enabled: bool):
    """(context, dtype, needs a GradScaler): mixed precision on CUDA only."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext(), None, False
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype), dtype, dtype == torch.float16


def _float_terms(losses: dict[str, torch.Tensor]) -> dict[str, float]:
    return {k: float(v.detach()) for k, v in losses.items()}


def _non_finite_message(step: int, epoch: int, terms: dict[str, float]) -> str:
    bad = [k for k, v in terms.items() if not math.isfinite(v)]
    shown = ", ".join(f"{k}={terms[k]:.4g}" for k in ["loss"] + [k for k in sorted(terms) if k != "loss"][:8])
    return (f"non-finite loss at step {step} (epoch {epoch}): {', '.join(bad) or 'loss'} not finite "
            f"({shown}); lower --lr or check the data; the last good checkpoint is kept")


class _Loop:
    """State of one training run (a class only to keep `train` readable)."""

    def __init__(self, cfg: TrainConfig, model: nn.Module, data: TrainData, on_event: OnEvent | None,
                 should_stop: ShouldStop | None, model_config: ModelConfig, run_dir: Path | None,
                 device: torch.device, resume: dict | None, metadata: dict, base: str, fold: TrainingFold,
                 half_weights: bool):
        self.cfg, self.data, self.model_config = cfg, data, model_config
        self.fold = fold
        self.device = device
        self.info = distributed.current()
        self.main = self.info.is_main
        self.emit = on_event if (on_event is not None and self.main) else (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.files = RunFiles(run_dir, model_config, list(data.class_map.names), data.class_map, cfg,
                              metadata, base, half_weights) if run_dir is not None else None
        self.base = base
        self.model = model
        self.criterion = SetCriterion(model_config.num_classes, cfg.criterion).to(device)
        self.sampler = EpochSampler(len(data.train), seed=cfg.seed, rank=self.info.rank,
                                    world_size=self.info.world_size)
        self.micro_per_epoch = math.ceil(self.sampler.per_rank / cfg.batch_size)
        self.steps_per_epoch = math.ceil(self.micro_per_epoch / cfg.accumulate)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.optimizer = build_optimizer(model, cfg)
        self.schedule = LRSchedule(self.optimizer, cfg, self.steps_per_epoch)
        self.autocast, self.amp_dtype, use_scaler = _autocast(device, cfg.amp)
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.epoch, self.epoch_step, self.step = 0, 0, 0
        self.best_ap: float | None = None
        self.metrics: dict | None = None
        self.first_epoch_loss: float | None = None
        self.warned_stuck = False
        self.epoch_sums: dict[str, float] = {}  # loss terms summed over the epoch's steps so far
        self.epoch_images = 0
        self.resumed = resume is not None
        if resume is not None:
            self._restore(resume)
        else:
            self.schedule.apply(0)
        self.ddp = (DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
                    if self.info.world_size > 1 else None)
        self.forward_model = self.ddp or model
        self.start_time = time.perf_counter()
        self.step_time_ema: float | None = None
        self.eval_time = 0.0

    # --- resume ---

    def _restore(self, state: dict) -> None:
        if int(state.get("world_size", 1)) != self.info.world_size:
            raise CheckpointError(f"the run was trained on {state.get('world_size')} processes, not "
                                  f"{self.info.world_size}: resume it with the same number")
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.epoch_step, self.step = int(state["epoch"]), int(state["epoch_step"]), int(state["step"])
        self.best_ap = state.get("best_ap")
        self.metrics = state.get("last_metrics")
        self.first_epoch_loss = state.get("first_epoch_loss")
        self.epoch_sums = dict(state.get("epoch_sums") or {})
        self.epoch_images = int(state.get("epoch_images", 0))
        set_rng_state(state["rng"])

    def state(self) -> dict:
        return {"epoch": self.epoch, "epoch_step": self.epoch_step, "step": self.step,
                "optimizer": self.optimizer.state_dict(), "scheduler": self.schedule.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "rng": rng_state(), "train_config": self.cfg.to_dict(),
                "world_size": self.info.world_size, "best_ap": self.best_ap,
                "last_metrics": self.metrics, "first_epoch_loss": self.first_epoch_loss,
                "epoch_sums": dict(self.epoch_sums), "epoch_images": self.epoch_images}

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
            train_config=cfg.to_dict(), base=self.base))
        for message in warnings:
            self.emit(RunWarning(message))
        while self.epoch < cfg.epochs:
            if not self._train_epoch():
                return self._stop()
            self._end_epoch()
        return self._finish()

    def _loader(self) -> DataLoader:
        cfg = self.cfg
        self.data.train.set_epoch(self.epoch)
        self.sampler.set_epoch(self.epoch, skip=self.epoch_step * cfg.accumulate * cfg.batch_size)
        return DataLoader(self.data.train, batch_size=cfg.batch_size, sampler=self.sampler,
                          num_workers=cfg.num_workers, collate_fn=collate,
                          pin_memory=self.device.type == "cuda",
                          generator=torch.Generator().manual_seed(cfg.seed + self.epoch))

    def _train_epoch(self) -> bool:
        """Train the rest of the current epoch. False when stopped on request."""
        self.model.train()
        self.epoch_start = time.perf_counter()
        if self.epoch_step == 0:
            self.epoch_sums = {}
            self.epoch_images = 0
        batches = iter(self._loader())
        while self.epoch_step < self.steps_per_epoch:
            if distributed.any_process(bool(self.should_stop()), self.device):
                return False
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
        sums: dict[str, float] = {}
        images = 0
        for i, batch in enumerate(micro):
            batch = batch.to(self.device, non_blocking=True)
            images += len(batch.targets)
            sync = contextlib.nullcontext() if (self.ddp is None or i == len(micro) - 1) else self.ddp.no_sync()
            with sync:
                with self.autocast:
                    outputs = self.forward_model(batch.images, batch.mask)
                    self._check_outputs(outputs)
                    losses = self.criterion(outputs, batch.targets)
                terms = _float_terms(losses)
                if distributed.any_process(not math.isfinite(terms["loss"]), self.device):
                    raise NonFiniteLossError(_non_finite_message(self.step + 1, self.epoch + 1, terms))
                loss = losses["loss"] / len(micro)
                (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v / len(micro)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        max_norm = self.cfg.clip_max_norm if self.cfg.clip_max_norm > 0 else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        lr, lr_backbone = self.schedule.lr_of("main"), self.schedule.lr_of("backbone")
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.epoch_step += 1
        self.schedule.apply(self.step)
        terms = distributed.mean_over_processes(sums, self.device)
        for k, v in terms.items():
            self.epoch_sums[k] = self.epoch_sums.get(k, 0.0) + v
        images *= self.info.world_size
        self.epoch_images += images
        elapsed = time.perf_counter() - started
        self.step_time_ema = elapsed if self.step_time_ema is None else 0.9 * self.step_time_ema + 0.1 * elapsed
        self.emit(StepDone(
            epoch=self.epoch + 1, epoch_step=self.epoch_step, steps_per_epoch=self.steps_per_epoch,
            step=self.step, total_steps=self.total_steps, loss=terms["loss"],
            losses={k: v for k, v in terms.items() if k != "loss"}, lr=lr, lr_backbone=lr_backbone,
            grad_norm=grad_norm, images_per_s=images / max(elapsed, 1e-9),
            elapsed_s=time.perf_counter() - self.start_time, eta_s=self._eta()))

    def _check_outputs(self, outputs: dict) -> None:
        """Non-finite predictions make every loss term non-finite (and the matcher fail)."""
        bad = [k for k in ("pred_logits", "pred_boxes") if not torch.isfinite(outputs[k]).all()]
        if distributed.any_process(bool(bad), self.device):
            raise NonFiniteLossError(
                f"non-finite loss at step {self.step + 1} (epoch {self.epoch + 1}): the model's outputs "
                f"are not finite ({', '.join(bad) or 'on another process'}), so no loss term is; lower "
                "--lr or check the data; the last good checkpoint is kept")

    def _eta(self) -> float:
        remaining = self.total_steps - self.step
        evals_left = self._evals_left()
        return remaining * (self.step_time_ema or 0.0) + evals_left * self.eval_time

    def _evals_left(self) -> int:
        if self.data.val is None:
            return 0
        return sum(self._eval_due(e) for e in range(self.epoch, self.cfg.epochs))

    def _eval_due(self, epoch: int) -> bool:
        every = self.cfg.eval_every
        return epoch == self.cfg.epochs - 1 or (every > 0 and (epoch + 1) % every == 0)

    def _end_epoch(self) -> None:
        cfg = self.cfg
        n = max(self.epoch_step, 1)
        means = {k: v / n for k, v in self.epoch_sums.items()}
        duration = time.perf_counter() - self.epoch_start
        metrics = None
        if self.data.val is not None and self._eval_due(self.epoch):
            metrics = self._evaluate()
        self.epoch += 1
        self.epoch_step = 0
        final = self.epoch == cfg.epochs
        self.emit(EpochDone(epoch=self.epoch, epochs=cfg.epochs, step=self.step, total_steps=self.total_steps,
                            loss=means.get("loss", float("nan")),
                            losses={k: v for k, v in means.items() if k != "loss"}, duration_s=duration,
                            images_per_s=self.epoch_images / max(duration, 1e-9), eta_s=self._eta(),
                            metrics=metrics))
        self._check_stuck(means.get("loss"))
        improved = metrics is not None and metrics.get("AP") is not None and (
            self.best_ap is None or metrics["AP"] > self.best_ap)
        if improved:
            self.best_ap = metrics["AP"]
        if self.files is not None and self.main:
            path = self.files.save_checkpoint(self.model, self.state(), self.epoch, self.step, self.metrics)
            self.emit(CheckpointSaved(str(path), self.epoch, self.step, "final" if final else "epoch", True))
            if improved:
                self.files.save_best(self.model, self.epoch, self.step, self.metrics)
        distributed.barrier()

    def _evaluate(self) -> dict:
        with self.fold.suspended():  # the plain model, for the inference copy
            result = evaluate_model(self.model, self.model_config, self.data.class_map, self.data.val,
                                    device=self.device, batch_size=self.cfg.batch_size,
                                    num_workers=min(self.cfg.num_workers, 2))
        started = time.perf_counter()
        val_terms = self._validation_loss()
        self.eval_time = result.duration_s + time.perf_counter() - started
        self.metrics = result.metrics
        self.emit(EvalDone(epoch=self.epoch + 1, step=self.step, metrics=result.metrics,
                           images=result.images, duration_s=self.eval_time,
                           loss=val_terms.pop("loss", None), losses=val_terms or None))
        self.model.train()
        return result.metrics

    @torch.no_grad()
    def _validation_loss(self) -> dict[str, float]:
        """The loss terms on the validation set: evaluation mode, the validation transform (no
        augmentation), each batch normalised by its own boxes; means over all images of all
        processes (each process scores its share)."""
        val = self.data.val
        mine = Subset(val, range(self.info.rank, len(val), self.info.world_size))
        loader = DataLoader(mine, batch_size=self.cfg.batch_size, collate_fn=collate,
                            num_workers=min(self.cfg.num_workers, 2))
        self.model.eval()
        sums: dict[str, float] = {}
        images = 0
        for batch in loader:
            batch = batch.to(self.device, non_blocking=True)
            with self.autocast:
                outputs = self.model(batch.images, batch.mask, aux=self.model.aux_loss)  # as in training
                boxes = float(sum(len(t["labels"]) for t in batch.targets))
                losses = self.criterion(outputs, batch.targets, num_boxes=max(boxes, 1.0))
            n = len(batch.targets)
            for k, v in _float_terms(losses).items():
                sums[k] = sums.get(k, 0.0) + v * n
            images += n
        if self.info.world_size > 1:
            parts = distributed.all_gather_object((sums, images))
            images = sum(n for _, n in parts)
            sums = {k: sum(s.get(k, 0.0) for s, _ in parts) for k in parts[0][0]}
        return {k: v / images for k, v in sums.items()} if images else {}

    def _check_stuck(self, loss: float | None) -> None:
        if loss is None:
            return
        if self.first_epoch_loss is None:
            self.first_epoch_loss = loss
        elif self.epoch >= 3 and not self.warned_stuck and loss > 0.95 * self.first_epoch_loss:
            self.warned_stuck = True
            self.emit(RunWarning(f"the loss has barely fallen in {self.epoch} epochs ({self.first_epoch_loss:.3f} "
                                 f"-> {loss:.3f}): DETR learns slowly from scratch and on small data; "
                                 "start from a pretrained checkpoint or train longer"))

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
            model_path = self.files.save_model(self.model, self.epoch, self.step, self.metrics)
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
          warnings: list[str] | None = None, half_weights: bool = False) -> TrainResult:
    """Train `model` (a DETR built for `model_config`, already holding its starting weights) on
    `data`. `run_dir`: where checkpoints go (None: nowhere). `resume`: the "state" of a
    checkpoint.pth to continue from. `metadata`: stored in every checkpoint, next to the
    category ids and metrics. `warnings`: emitted as "warning" events right after "start".
    `half_weights`: model.pth and best.pth in fp16. Under torch.distributed (see distributed.py) every process calls
    this; only the main one emits events and writes files.

    Raises NonFiniteLossError, CheckpointError, DatasetError / ImageError (bad samples); an
    "error" event is emitted first."""
    device = torch.device(device)
    model.to(device)
    if cfg.freeze_backbone:
        model.backbone.requires_grad_(False)
    elif cfg.train_stem:
        model.backbone.requires_grad_(True)
    run_dir = Path(run_dir) if run_dir is not None else None
    loop = None
    try:
        with folded_for_training(model, batch_stats=cfg.batch_stats) as fold:
            loop = _Loop(cfg, model, data, on_event, should_stop, model_config, run_dir, device, resume,
                         dict(metadata or {}), base, fold, half_weights)
            return loop.run(warnings or [])
    except Exception as error:
        if loop is not None:
            loop.fail(error)
            error.reported = True  # the CLI does not report it again
        raise
