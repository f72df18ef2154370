"""The preflight's one-batch overfit check: a few dozen steps on one small batch must drive the
loss down and the matched boxes onto the targets.

A model that cannot fit one batch will not fit a data set. What fails says which part is wrong:
    the box loss does not fall       -> the boxes do not follow the images (box format: COCO bbox
                                        is [x, y, width, height] in pixels; detr #550)
    the class loss does not fall     -> the labels do not follow the images (category ids; detr #41)
    nothing falls                    -> the learning rate or the model
A copy of the model trains; the caller's model is not changed.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch

from ..data.batching import collate
from ..data.dataset import CocoDetection
from ..data.transforms import EvalTransform, ResolutionPreset
from ..model.box_ops import box_cxcywh_to_xyxy, box_iou
from ..model.criterion import SetCriterion
from ..model.detr import DETR
from .fold import folded_for_training
from .preflight import Finding

STEPS = 40
IMAGES = 2
LOSS_FALL = 0.5  # the loss must end below this share of its start
IOU_TARGET = 0.5  # the matched boxes' mean IoU with their targets at the end


@dataclass(frozen=True)
class OverfitResult:
    loss_start: float
    loss_end: float
    bbox_ratio: float  # box terms (L1 + GIoU) end / start
    ce_ratio: float
    iou_start: float
    iou_end: float
    seconds_per_step: float = 0.0  # wall time of one training step on the batch (the first left out)
    images: int = 0  # images in the batch


@torch.no_grad()
def _matched_iou(model: DETR, criterion: SetCriterion, images, mask, targets) -> float:
    model.eval()
    out = model(images, mask)
    indices = criterion.matcher(out, targets)
    ious = []
    for b, (src, tgt) in enumerate(indices):
        if len(src):
            pred = box_cxcywh_to_xyxy(out["pred_boxes"][b, src])
            true = box_cxcywh_to_xyxy(targets[b]["boxes"][tgt])
            ious.append(torch.diag(box_iou(pred, true)[0]))
    model.train()
    return float(torch.cat(ious).mean()) if ious else 0.0


def run_overfit(model: DETR, dataset: CocoDetection, resolution: ResolutionPreset, *, steps: int = STEPS,
                lr: float = 2e-4, from_scratch: bool = False) -> OverfitResult:
    """Train a copy of `model` for `steps` steps on the first IMAGES images that hold boxes."""
    chosen = [i for i, r in enumerate(dataset.records) if len(r.labels)][:IMAGES]
    transform = EvalTransform(resolution.eval_size, resolution.max_size)
    saved, dataset.transform = dataset.transform, transform
    try:
        batch = collate([dataset[i] for i in chosen])
    finally:
        dataset.transform = saved
    model = copy.deepcopy(model).cpu().train()
    if from_scratch:
        model.backbone.requires_grad_(True)
    criterion = SetCriterion(model.num_classes)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    first = last = None
    iou_start = _matched_iou(model, criterion, batch.images, batch.mask, batch.targets)
    timed_from = None  # the first step warms up (allocations, kernel choice): not timed
    with folded_for_training(model, batch_stats=from_scratch):
        for step in range(steps):
            if step == min(1, steps - 1):
                timed_from = time.perf_counter()
            losses = criterion(model(batch.images, batch.mask), batch.targets)
            terms = {k: float(losses[k].detach()) for k in ("loss", "loss_ce", "loss_bbox", "loss_giou")}
            first = first or terms
            last = terms
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            torch.nn.utils.clip_grad_norm_(params, 0.1)
            optimizer.step()
        per_step = (time.perf_counter() - timed_from) / max(1, steps - 1) if steps else 0.0
        iou_end = _matched_iou(model, criterion, batch.images, batch.mask, batch.targets)
    box = lambda t: 5 * t["loss_bbox"] + 2 * t["loss_giou"]  # noqa: E731
    return OverfitResult(first["loss"], last["loss"], box(last) / max(box(first), 1e-9),
                         last["loss_ce"] / max(first["loss_ce"], 1e-9), iou_start, iou_end, per_step,
                         len(chosen))


def overfit_findings(result: OverfitResult, steps: int = STEPS) -> list[Finding]:
    r = result
    summary = (f"one-batch overfit, {steps} steps: loss {r.loss_start:.3f} -> {r.loss_end:.3f}, matched-box "
               f"IoU {r.iou_start:.2f} -> {r.iou_end:.2f}")
    measured = {"seconds_per_step": round(r.seconds_per_step, 4), "images_per_step": r.images}
    problems = []
    if r.bbox_ratio > 0.8:
        problems.append("the box loss barely fell: the boxes do not follow the images (COCO bbox is "
                        "[x, y, width, height] in pixels; check the file's box format)")
    if r.ce_ratio > 0.8:
        problems.append("the class loss barely fell: the labels do not follow the images (check the "
                        "category ids)")
    if r.loss_end > LOSS_FALL * r.loss_start and not problems:
        problems.append(f"the loss fell less than {1 - LOSS_FALL:.0%}: raise the learning rate, or the "
                        "model is too small")
    if r.iou_end < IOU_TARGET and not problems:
        problems.append(f"the matched boxes did not reach the targets (IoU {r.iou_end:.2f} < {IOU_TARGET})")
    if problems:
        return [Finding("error", "overfit", f"{summary}; {problem}", measured) for problem in problems]
    return [Finding("ok", "overfit", summary, measured)]
