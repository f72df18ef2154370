"""What the fine-tune dialog says a run will do before it starts (no Qt): the automatic recipe
chosen for the planned data, and how long the run should take.

    lines = recipe_lines(plan, options, train_args, base_names, base_backbone)  # recipe.choose(...).lines
    text = expected_time(options, train_images=20, step=StepTime(0.8, 2))

The recipe is the core's own (`detr_core.train.recipe.choose`), on the facts of the data plan and
on the options the train command would be given (parsed by the train command's own parser), so
the lines are those the run prints at start. Nothing here loads a model: the starting
checkpoint's class names come from the window's loaded model when it is that checkpoint.

The time of an epochs run: epochs x steps per epoch x seconds per step, the seconds measured by
the preflight's one-batch overfit (on the CPU, at the evaluation size, `images_per_step` images a
step) and scaled to the run's batch size. Validation passes and data loading are not counted,
hence the "~".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .command import TrainOptions
from .snapshot import DataPlan

UNKNOWN_NEW = ("new classes: known at start (the starting model's classes are read then; so is its backbone, "
               "which sets the backbone's lr)")


@dataclass(frozen=True)
class StepTime:
    """The preflight overfit's measure: one training step on `images_per_step` images."""
    seconds_per_step: float
    images_per_step: int

    @classmethod
    def of(cls, measured: dict | None) -> "StepTime | None":
        if not measured or not measured.get("seconds_per_step") or not measured.get("images_per_step"):
            return None
        return cls(float(measured["seconds_per_step"]), int(measured["images_per_step"]))

    def for_batch(self, batch_size: int) -> float:
        """Seconds a step of `batch_size` images takes (time grows with the images in a step)."""
        return self.seconds_per_step * batch_size / self.images_per_step


def steps_per_epoch(images: int, batch_size: int, processes: int = 1) -> int:
    """Optimizer steps in one epoch: the last, smaller batch counts (the loader keeps it)."""
    return max(1, math.ceil(images / (batch_size * max(1, processes))))


def estimate_seconds(epochs: int, steps: int, seconds_per_step: float) -> float:
    return epochs * steps * seconds_per_step


def _minutes(seconds: float) -> str:
    m = max(1, round(seconds / 60))
    return f"~{m} minute" + ("s" if m != 1 else "")


def expected_time(options: TrainOptions, train_images: int, step: StepTime | None,
                  on_gpu: bool = False) -> str:
    """One line: how long the run takes."""
    if options.minutes is not None:
        m = options.minutes
        return f"Ends in {m} minute{'s' if m != 1 else ''}, with its best model."
    steps = steps_per_epoch(train_images, options.batch_size, options.gpus)
    counted = f"{options.epochs} epochs × {steps} steps"
    if step is None:
        return f"{counted}; time per step: measured by the preflight (its one-batch overfit)."
    seconds = estimate_seconds(options.epochs, steps, step.for_batch(options.batch_size))
    where = " (a step measured on the CPU; the GPU is faster)" if on_gpu else ""
    return f"{_minutes(seconds)} ({counted}){where}."


def recipe_lines(plan: DataPlan, options: TrainOptions, train_args: list[str],
                 base_names: tuple[str, ...] | None, base_backbone: str | None = None) -> list[str]:
    """The lines of the automatic recipe for `plan`. `train_args`: the train command's arguments
    after "train"; `base_names`, `base_backbone`: the starting checkpoint's classes and backbone,
    None when not known here."""
    from detr_core.cli.train import recipe_inputs
    from detr_core.train.finetune import new_class_names
    from detr_core.train.recipe import DataFacts, choose

    from_scratch = options.checkpoint is None
    names = [c.name for c in plan.classes]
    new = 0 if from_scratch or base_names is None else len(new_class_names(names, list(base_names)))
    facts = DataFacts(images=len(plan.train_ids), boxes=plan.train_boxes, classes=len(names),
                      max_boxes=plan.max_boxes, new_classes=new, from_scratch=from_scratch, backbone=base_backbone)
    given, base = recipe_inputs(train_args, from_scratch)
    try:
        lines = choose(facts, given, base).lines
    except ValueError as e:
        return [f"no recipe: {e}"]
    return lines + ([UNKNOWN_NEW] if base_names is None and not from_scratch else [])
