"""Hungarian matching against brute force."""
from __future__ import annotations

import itertools

import pytest
import torch

from detr_core.model.box_ops import box_cxcywh_to_xyxy, generalized_box_iou
from detr_core.model.matcher import HungarianMatcher, MatcherConfig


def _random_case(gen, B, Q, K, sizes):
    outputs = {"pred_logits": torch.randn(B, Q, K + 1, generator=gen),
               "pred_boxes": torch.rand(B, Q, 2, generator=gen).mul(0.6).add(0.2)}
    wh = torch.rand(B, Q, 2, generator=gen).mul(0.3).add(0.05)
    outputs["pred_boxes"] = torch.cat([outputs["pred_boxes"], wh], -1)
    targets = []
    for n in sizes:
        centre = torch.rand(n, 2, generator=gen) * 0.6 + 0.2
        targets.append({"labels": torch.randint(0, K, (n,), generator=gen),
                        "boxes": torch.cat([centre, torch.rand(n, 2, generator=gen) * 0.3 + 0.05], -1)})
    return outputs, targets


def _cost(outputs, target, b, cfg):
    prob = outputs["pred_logits"][b].softmax(-1)
    boxes = outputs["pred_boxes"][b]
    l1 = torch.cdist(boxes, target["boxes"], p=1)
    giou = generalized_box_iou(box_cxcywh_to_xyxy(boxes), box_cxcywh_to_xyxy(target["boxes"]))
    return cfg.cost_bbox * l1 - cfg.cost_class * prob[:, target["labels"]] - cfg.cost_giou * giou  # [Q, T]


@pytest.mark.parametrize("seed", range(12))
def test_matches_brute_force(seed):
    gen = torch.Generator().manual_seed(seed)
    Q, K = 5, 3
    sizes = [seed % 4, (seed * 7) % 5, 3]
    outputs, targets = _random_case(gen, len(sizes), Q, K, sizes)
    cfg = MatcherConfig()
    indices = HungarianMatcher(cfg)(outputs, targets)
    for b, (target, (rows, cols)) in enumerate(zip(targets, indices)):
        T = len(target["labels"])
        assert len(rows) == len(cols) == min(Q, T)
        assert len(set(rows.tolist())) == len(rows)
        cost = _cost(outputs, target, b, cfg)
        got = cost[rows, cols].sum().item() if T else 0.0
        best = min((sum(cost[q, t].item() for t, q in enumerate(perm))
                    for perm in itertools.permutations(range(Q), T)), default=0.0)
        assert got == pytest.approx(best, abs=1e-5)


def test_all_images_empty():
    outputs = {"pred_logits": torch.randn(2, 4, 3), "pred_boxes": torch.rand(2, 4, 4)}
    empty = {"labels": torch.zeros(0, dtype=torch.int64), "boxes": torch.zeros(0, 4)}
    for rows, cols in HungarianMatcher()(outputs, [empty, empty]):
        assert rows.numel() == cols.numel() == 0
