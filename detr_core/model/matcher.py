"""Hungarian matching of predictions to targets with the reference costs."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .box_ops import box_cxcywh_to_xyxy, generalized_box_iou


@dataclass(frozen=True)
class MatcherConfig:
    cost_class: float = 1.0  # -probability of the target class
    cost_bbox: float = 5.0  # L1 between cxcywh boxes
    cost_giou: float = 2.0  # -generalised IoU


class HungarianMatcher(nn.Module):
    """One-to-one assignment of each image's targets to queries, minimising
    cost = cost_bbox * L1 + cost_class * (-p[target class]) + cost_giou * (-GIoU),
    solved per image with scipy's linear_sum_assignment on the CPU."""

    def __init__(self, cfg: MatcherConfig = MatcherConfig()):
        super().__init__()
        assert cfg.cost_class or cfg.cost_bbox or cfg.cost_giou, "all matcher costs are zero"
        self.cfg = cfg

    @torch.no_grad()
    def forward(self, outputs: dict, targets: list[dict]) -> list[tuple[Tensor, Tensor]]:
        """outputs: "pred_logits" [B, Q, K+1], "pred_boxes" [B, Q, 4] cxcywh normalised;
        targets: per image "labels" [T_i] int64, "boxes" [T_i, 4] cxcywh normalised.

        Returns per image (query indices [n_i], target indices [n_i]), n_i = min(Q, T_i)."""
        B, Q = outputs["pred_logits"].shape[:2]
        out_prob = outputs["pred_logits"].flatten(0, 1).float().softmax(-1)  # [B*Q, K+1]
        out_bbox = outputs["pred_boxes"].flatten(0, 1).float()  # [B*Q, 4]
        sizes = [len(t["boxes"]) for t in targets]
        empty = torch.empty(0, dtype=torch.int64)
        if sum(sizes) == 0:
            return [(empty, empty) for _ in targets]
        tgt_ids = torch.cat([t["labels"] for t in targets])  # [T]
        tgt_bbox = torch.cat([t["boxes"] for t in targets]).float()  # [T, 4]
        cost_class = -out_prob[:, tgt_ids]  # [B*Q, T]
        cost_bbox = torch.cdist(out_bbox, tgt_bbox, p=1)  # [B*Q, T]
        cost_giou = -generalized_box_iou(box_cxcywh_to_xyxy(out_bbox), box_cxcywh_to_xyxy(tgt_bbox))
        cost = self.cfg.cost_bbox * cost_bbox + self.cfg.cost_class * cost_class + self.cfg.cost_giou * cost_giou
        cost = cost.view(B, Q, -1).cpu()  # [B, Q, T]
        from scipy.optimize import linear_sum_assignment  # here, not at the top: a second of the window's start

        indices = []
        for i, c in enumerate(cost.split(sizes, -1)):
            if sizes[i] == 0:
                indices.append((empty, empty))
                continue
            rows, cols = linear_sum_assignment(c[i].numpy())
            indices.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
        return indices


def build(cfg: MatcherConfig = MatcherConfig()) -> HungarianMatcher:
    return HungarianMatcher(cfg)
