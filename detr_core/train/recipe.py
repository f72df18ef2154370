"""The small-data recipe: training settings chosen from the data and the starting model.

    facts = DataFacts.of(dataset, new_classes=2, from_scratch=False)
    recipe = choose(facts, given={"lr": 3e-4})
    recipe.config        # a TrainConfig
    recipe.lines         # what was chosen and why, one line each ("(given)" for the user's own)

Every choice can be overridden: a field in `given` is taken as it is. Large data sets (over
LARGE_SET images) get the reference recipe (TrainConfig's defaults) with only the cheap choices.
From scratch on at most MEMORISE_SET images the run can only memorise its images (an overfit
check): what slows memorising (dropout, random scales and crops, flips, cosine decay, warm-up) is
turned off and the lr stays high for 80 % of the run.
The choices and their reasons are those measured by tests/benchmarks/bench_convergence.py
(README, "Fine-tuning in minutes").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..data.dataset import CocoDetection
from .config import TrainConfig

LARGE_SET = 2000  # images: above this the reference recipe
FEW_IMAGES_IN_PROCESS = 200  # images: decoded in the training process (no loader workers)
SMALL_GROUPS = 4  # Group DETR groups on small data (cost per step: README table)
SMALL_LR_BACKBONE = 1e-4  # fine-tuning a large (or unknown) backbone on small data: at the main lr
SMALL_BACKBONES = ("resnet18", "resnet34")  # the CPU presets' backbones (tiny, small, demo)
SMALL_BACKBONE_LR = 1e-3  # fine-tuning one of those on small data: 10x the main lr (README table)
MEMORISE_SET = 16  # images: from scratch on at most this many, a run can only memorise them
MEMORISE_LR = 5e-4  # from scratch on so few: 0.78 AP50 against 0.44 at 2e-4 after 150 steps (README)
MEMORISE_DROP = 0.8  # ... and the step schedule's drop at 80 % of the run (README)


@dataclass(frozen=True)
class DataFacts:
    images: int
    boxes: int
    classes: int
    max_boxes: int  # in one image
    new_classes: int  # classes whose head row starts fresh (fine-tuning)
    from_scratch: bool
    backbone: str | None = None  # the starting model's (ModelConfig.backbone; fine-tuning only); None: not known

    @classmethod
    def of(cls, dataset: CocoDetection, *, new_classes: int, from_scratch: bool,
           backbone: str | None = None) -> "DataFacts":
        counts = [len(r.labels) for r in dataset.records]
        return cls(len(counts), sum(counts), len(dataset.class_map), max(counts, default=0), new_classes,
                   from_scratch, backbone)


@dataclass(frozen=True)
class Recipe:
    config: TrainConfig
    lines: list[str]


def _auto(facts: DataFacts) -> list[tuple[str, Any, str]]:
    """(field, value, why) of the automatic choices."""
    n = facts.images
    small = n <= LARGE_SET
    memorise = (f"from scratch on {n} images (a run can only memorise so few: an overfit check)"
                if facts.from_scratch and n <= MEMORISE_SET else "")
    out: list[tuple[str, Any, str]] = []
    if small:
        bs = max(1, min(4, n))
        out.append(("batch_size", bs, f"{n} images: {bs} per step (batches of 2 can collapse DETR on "
                                      "small data, detr #505)"))
        if memorise:
            out.append(("groups", 1, f"{memorise}: one query group (4 memorised less in each of 3 "
                                     "paired seeds)"))
        else:
            out.append(("groups", SMALL_GROUPS, f"{n} images: {SMALL_GROUPS} query groups while training "
                                                "(Group DETR: more matched queries per image; the saved "
                                                "model keeps one)"))
        if memorise:
            out.append(("schedule", "step", f"{memorise}: step schedule (cosine memorised less in as many "
                                            "steps)"))
            out.append(("drop_fraction", MEMORISE_DROP, f"{memorise}: the lr stays high for "
                                                        f"{MEMORISE_DROP:.0%} of the run, then x0.1"))
            out.append(("warmup_steps", 0, f"{memorise}: no warm-up (with the drop at 80 %: 0.72-0.78 AP50 "
                                           "against 0.67-0.72 with 20 warm-up steps and the drop at 2/3, "
                                           "3 paired seeds)"))
        else:
            out.append(("schedule", "cosine", "cosine schedule: ends low whatever the run's length "
                                              "(fits a time budget)"))
            out.append(("warmup_steps", 20, "20 warm-up steps"))
    if memorise:
        why = memorise
        out.append(("lr", MEMORISE_LR, f"{why}: lr {MEMORISE_LR:g}"))
        out.append(("lr_backbone", MEMORISE_LR, "from scratch: the backbone learns at the same lr"))
        out.append(("dropout", 0.0, f"{why}: no dropout (with 0.1 it learns several times slower)"))
        out.append(("augment", "resize", f"{why}: every image at the evaluation size "
                                         "(random scales and crops would slow it several times)"))
        out.append(("hflip", False, f"{why}: no random flips (they doubled what it had to memorise: "
                                    "0.33 against 0.78 AP50 after 150 steps)"))
    elif facts.from_scratch:
        out.append(("lr", 2e-4, "from scratch: lr 2e-4"))
        out.append(("lr_backbone", 2e-4, "from scratch: the backbone learns at the same lr"))
    elif small:
        out.append(("lr", 1e-4, f"{n} images: lr 1e-4, new class rows included (2e-4 and 4e-4 measured worse)"))
        if facts.backbone in SMALL_BACKBONES:
            out.append(("lr_backbone", SMALL_BACKBONE_LR,
                        f"{n} images, a {facts.backbone} backbone: it adapts at 10x the main lr "
                        f"({SMALL_BACKBONE_LR:g}; the reference 1e-5 and 1e-4 measured worse on a shifted domain)"))
        else:
            kind = f"a {facts.backbone}" if facts.backbone else "this"
            out.append(("lr_backbone", SMALL_LR_BACKBONE,
                        f"{n} images, {kind} backbone: it adapts at the main lr ({SMALL_LR_BACKBONE:g}, not the "
                        f"reference 1e-5; the {SMALL_BACKBONE_LR:g} measured on the small CPU backbones was not "
                        "measured on larger ones)"))
    if n <= FEW_IMAGES_IN_PROCESS:
        out.append(("num_workers", 0, f"{n} images: decoded in the training process (loader workers "
                                      "would start again every epoch)"))
    return out


def choose(facts: DataFacts, given: dict[str, Any] | None = None, base: TrainConfig | None = None) -> Recipe:
    """The recipe for `facts`; `given`: the user's own settings (kept as they are); `base`: the
    configuration the choices are applied to (default TrainConfig())."""
    given = dict(given or {})
    base = base or TrainConfig()
    values: dict[str, Any] = {}
    lines = [f"recipe for {facts.images} images, {facts.boxes} boxes, {facts.classes} classes"
             + (f" ({facts.new_classes} new)" if facts.new_classes else "")
             + (", from scratch" if facts.from_scratch else "")]
    for name, value, why in _auto(facts):
        if name in given:
            continue
        values[name] = value
        lines.append(f"  {name} = {value}: {why}")
    for name, value in sorted(given.items()):
        values[name] = value
        lines.append(f"  {name} = {value} (given)")
    return Recipe(base.replace(**values), lines)
