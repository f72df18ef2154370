"""Set loss: hand-computed values, empty images, and the reference (transformers' port) loss."""
from __future__ import annotations

import math

import pytest
import torch

from detr_core.model.criterion import CriterionConfig, SetCriterion


def test_hand_computed_single_match():
    # 2 queries, 2 classes (+ no object), one target of class 1 that query 0 matches exactly.
    logits = torch.tensor([[[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]]])
    boxes = torch.tensor([[[0.5, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1]]])
    target_box = torch.tensor([[0.5, 0.5, 0.4, 0.2]])  # same centre, twice as wide
    targets = [{"labels": torch.tensor([1]), "boxes": target_box}]
    losses = SetCriterion(2, CriterionConfig(aux_loss=False))({"pred_logits": logits, "pred_boxes": boxes}, targets)

    def nll(row, cls):
        return -math.log(math.exp(row[cls]) / sum(math.exp(v) for v in row))
    # Weighted CE: query 0 -> class 1 (weight 1), query 1 -> no object (weight 0.1).
    ce = (1.0 * nll([0.0, 2.0, 0.0], 1) + 0.1 * nll([1.0, 0.0, 3.0], 2)) / (1.0 + 0.1)
    assert losses["loss_ce"].item() == pytest.approx(ce, rel=1e-5)
    assert losses["loss_bbox"].item() == pytest.approx(0.2, rel=1e-5)  # |0.2 - 0.4|
    # IoU = 0.04 / 0.08, enclosing box = union: GIoU = 0.5.
    assert losses["loss_giou"].item() == pytest.approx(0.5, rel=1e-5)
    assert losses["class_error"].item() == 0.0
    assert losses["cardinality_error"].item() == 0.0  # query 0 says class 1, query 1 says no object
    assert losses["loss"].item() == pytest.approx(ce + 5 * 0.2 + 2 * 0.5, rel=1e-5)


def test_images_without_boxes_are_valid():
    criterion = SetCriterion(3)
    logits = torch.randn(2, 5, 4, requires_grad=True)
    boxes = torch.rand(2, 5, 4).mul(0.5).add(0.1).requires_grad_()
    empty = {"labels": torch.zeros(0, dtype=torch.int64), "boxes": torch.zeros(0, 4)}
    aux = [{"pred_logits": logits * 0.5, "pred_boxes": boxes}]
    losses = criterion({"pred_logits": logits, "pred_boxes": boxes, "aux_outputs": aux}, [empty, empty])
    assert losses["loss_bbox"].item() == 0 and losses["loss_giou"].item() == 0
    assert torch.isfinite(losses["loss"]) and "loss_ce_0" in losses
    losses["loss"].backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_equals_transformers_detr_loss():
    transformers_loss = pytest.importorskip("transformers.loss.loss_for_object_detection")
    gen = torch.Generator().manual_seed(3)
    B, Q, K, L = 3, 10, 4, 3
    logits = torch.randn(L, B, Q, K + 1, generator=gen)
    boxes = torch.cat([torch.rand(L, B, Q, 2, generator=gen) * 0.6 + 0.2,
                       torch.rand(L, B, Q, 2, generator=gen) * 0.3 + 0.05], -1)
    targets = []
    for n in (0, 2, 5):
        targets.append({"labels": torch.randint(0, K, (n,), generator=gen),
                        "boxes": torch.cat([torch.rand(n, 2, generator=gen) * 0.6 + 0.2,
                                            torch.rand(n, 2, generator=gen) * 0.3 + 0.05], -1)})
    ours = SetCriterion(K)({
        "pred_logits": logits[-1], "pred_boxes": boxes[-1],
        "aux_outputs": [{"pred_logits": a, "pred_boxes": b} for a, b in zip(logits[:-1], boxes[:-1])]}, targets)
    matcher = transformers_loss.HungarianMatcher(class_cost=1, bbox_cost=5, giou_cost=2)
    theirs_criterion = transformers_loss.ImageLoss(matcher, K, 0.1, ["labels", "boxes", "cardinality"])
    theirs = theirs_criterion({
        "logits": logits[-1], "pred_boxes": boxes[-1],
        "auxiliary_outputs": [{"logits": a, "pred_boxes": b} for a, b in zip(logits[:-1], boxes[:-1])]},
        [{"class_labels": t["labels"], "boxes": t["boxes"]} for t in targets])
    for key in ("loss_ce", "loss_bbox", "loss_giou", "cardinality_error", "loss_ce_0", "loss_giou_1"):
        assert ours[key].item() == pytest.approx(theirs[key].item(), abs=1e-5), key
