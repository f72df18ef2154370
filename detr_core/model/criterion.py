"""The DETR set loss: Hungarian matching, then cross-entropy (down-weighted "no object"), L1 and
GIoU on matched boxes, the same on every decoder layer (auxiliary losses)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from .box_ops import box_cxcywh_to_xyxy, generalized_box_iou
from .matcher import HungarianMatcher, MatcherConfig


@dataclass(frozen=True)
class CriterionConfig:
    eos_coef: float = 0.1  # weight of the "no object" class in the cross-entropy
    loss_ce: float = 1.0
    loss_bbox: float = 5.0
    loss_giou: float = 2.0
    aux_loss: bool = True  # the same losses on every decoder layer's output
    matcher: MatcherConfig = MatcherConfig()


class SetCriterion(nn.Module):
    def __init__(self, num_classes: int, cfg: CriterionConfig = CriterionConfig()):
        super().__init__()
        self.num_classes = num_classes
        self.cfg = cfg
        self.matcher = HungarianMatcher(cfg.matcher)
        empty_weight = torch.ones(num_classes + 1)
        empty_weight[-1] = cfg.eos_coef
        self.register_buffer("empty_weight", empty_weight)

    @property
    def weight_dict(self) -> dict[str, float]:
        return {"loss_ce": self.cfg.loss_ce, "loss_bbox": self.cfg.loss_bbox, "loss_giou": self.cfg.loss_giou}

    def forward(self, outputs: dict, targets: list[dict], num_boxes: float | None = None) -> dict[str, Tensor]:
        """outputs: the model's dict ("pred_logits" [B, Q, K+1], "pred_boxes" [B, Q, 4] and
        optionally "aux_outputs"); targets: per image "labels" [T_i], "boxes" [T_i, 4] cxcywh
        normalised. Returns every unweighted term (loss_ce, loss_bbox, loss_giou, their "_i"
        auxiliary versions, class_error and cardinality_error for logging) and "loss", the weighted
        sum to optimise. `num_boxes` (the normaliser) defaults to the target boxes averaged over
        processes; pass it to score one process's batch alone (as the validation loss does)."""
        if num_boxes is None:
            num_boxes = self.num_boxes(targets, outputs["pred_logits"].device)
        losses = self._layer_losses(outputs, targets, num_boxes, log=True)
        if self.cfg.aux_loss:
            for i, aux in enumerate(outputs.get("aux_outputs", [])):
                layer = self._layer_losses(aux, targets, num_boxes, log=False)
                losses.update({f"{k}_{i}": v for k, v in layer.items()})
        weights = self.weight_dict
        losses["loss"] = sum(v * weights[k.rsplit("_", 1)[0] if k[-1].isdigit() else k]
                             for k, v in losses.items() if k.startswith("loss_"))
        return losses

    @staticmethod
    def num_boxes(targets: list[dict], device: torch.device) -> float:
        """Target boxes per process, averaged over processes when distributed (at least 1)."""
        total = torch.as_tensor([float(sum(len(t["labels"]) for t in targets))], device=device)
        world = 1
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(total)
            world = dist.get_world_size()
        return max(total.item() / world, 1.0)

    def _layer_losses(self, outputs: dict, targets: list[dict], num_boxes: float, log: bool) -> dict:
        indices = self.matcher(outputs, targets)
        batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
        src_idx = torch.cat([src for src, _ in indices])
        logits = outputs["pred_logits"].float()  # [B, Q, K+1]
        device = logits.device
        batch_idx, src_idx = batch_idx.to(device), src_idx.to(device)
        matched_labels = torch.cat([t["labels"][j] for t, (_, j) in zip(targets, indices)]).to(device)
        target_classes = torch.full(logits.shape[:2], self.num_classes, dtype=torch.int64, device=device)
        target_classes[batch_idx, src_idx] = matched_labels
        losses = {"loss_ce": F.cross_entropy(logits.transpose(1, 2), target_classes, self.empty_weight)}

        src_boxes = outputs["pred_boxes"][batch_idx, src_idx].float()  # [N, 4]
        tgt_boxes = torch.cat([t["boxes"][j] for t, (_, j) in zip(targets, indices)]).to(device).float()
        losses["loss_bbox"] = F.l1_loss(src_boxes, tgt_boxes, reduction="sum") / num_boxes
        giou = torch.diag(generalized_box_iou(box_cxcywh_to_xyxy(src_boxes), box_cxcywh_to_xyxy(tgt_boxes)))
        losses["loss_giou"] = (1 - giou).sum() / num_boxes
        if log:
            with torch.no_grad():
                if len(matched_labels):
                    correct = (logits[batch_idx, src_idx].argmax(-1) == matched_labels).float().mean()
                    losses["class_error"] = 100 - 100 * correct
                else:
                    losses["class_error"] = torch.zeros((), device=device)
                predicted = (logits.argmax(-1) != self.num_classes).sum(1).float()  # [B]
                wanted = torch.as_tensor([float(len(t["labels"])) for t in targets], device=device)
                losses["cardinality_error"] = (predicted - wanted).abs().mean()
        return losses


def build(num_classes: int, cfg: CriterionConfig = CriterionConfig()) -> SetCriterion:
    return SetCriterion(num_classes, cfg)
